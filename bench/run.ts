/**
 * `npm run bench`: Boxoffice against a bare grpc-js peer, on this machine.
 *
 * Starts a private redis-server, the service (compiled, or under tsx: BENCH_SERVICE) and the peer as
 * separate processes, drives unary load with h2load and a Node client, holds
 * and sells seats of a 100,000-seat map, opens thousands of WatchPosition
 * streams from another process, lets 50,000 users through an on-sale, drains
 * and follows an event's change feed through a consumer group (when named:
 * a fan-out over several client processes, and a line of one million), prints
 * the results, and stops everything it started, also on failure or Ctrl-C.
 * Knobs: see `settings.ts` (BENCH_SECONDS, BENCH_WATCHERS, …); one part
 * alone: `npm run bench -- --scenario <name>` (`--scenario list` names them).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { loadConfig } from "../src/config.js";
import { QueueStore } from "../src/queue/queue-store.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../src/redis/embedded-redis.js";
import { type Child, ChildSet } from "./children.js";
import type { BenchContext, ResultRow, Servers } from "./context.js";
import { runClusterScale, type ClusterScaleResult } from "./cluster-scale.js";
import { runFailover, type FailoverResult } from "./failover.js";
import { failoverTable } from "./failover-report.js";
import { runFanout, type FanoutResult } from "./fanout.js";
import { FcallLedger, fcallTable } from "./fcall-stats.js";
import { runFeed, type FeedResults } from "./feed.js";
import { feedPassed, feedTables, feedTargets } from "./feed-report.js";
import { QuietWindow } from "./foreign-load.js";
import { runFresh, type FreshRow } from "./fresh.js";
import { runInstances } from "./instances.js";
import { describeMachine, machineLines } from "./machine.js";
import { type MillionResult, runMillion } from "./million.js";
import { millionTables, millionTargets } from "./million-report.js";
import { ONSALE_VARIANTS, runOnSale, type OnSaleResult } from "./onsale.js";
import { runPaced, type PacedResult } from "./paced.js";
import { pacedTable, pacedTargets } from "./paced-report.js";
import { cadenceTable, fanoutTable, onsaleTable, onsaleTargets, seatTable, seatTargets, targets, unaryTable } from "./report.js";
import { nodeTable, scaleTable, scalingTable } from "./scale-report.js";
import type { ScaleRow } from "./scale-runs.js";
import { runSeats, type SeatResults } from "./seats.js";
import { startService, type ServiceProcess } from "./service.js";
import { loadBenchSettings, SCENARIOS, type BenchSettings } from "./settings.js";
import { runUnary } from "./unary.js";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.some((arg, i) => arg === "--scenario=list" || (arg === "list" && argv[i - 1] === "--scenario"))) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(13)} ${s.flag.padEnd(19)} ${s.byDefault ? "default" : "opt-in "}  ${s.about}`);
    return;
  }
  const settings = loadBenchSettings(process.env, argv);
  const children = new ChildSet();
  // Ctrl-C or a kill: exit normally so the exit hooks stop every child and remove the scratch files.
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));

  const dir = await mkdtemp(join(tmpdir(), "boxoffice-bench-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  let embedded: EmbeddedRedis | undefined;
  let redis: Redis | undefined;
  try {
    embedded = await startEmbeddedRedis();
    redis = new Redis(embedded.url, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    await redis.connect();
    const ctx: BenchContext = {
      settings,
      children,
      redis,
      store: new QueueStore(redis),
      redisUrl: embedded.url,
      dir,
      quiet: new QuietWindow(settings.quietBudgetSeconds * 1000),
      runId: randomBytes(4).toString("hex"),
    };
    const machine = await describeMachine(redis);
    for (const line of machineLines(machine)) console.log(line);
    console.log(settingsLine(settings));

    const ledger = new FcallLedger(redis);
    const rows: ResultRow[] = [];
    const fresh: FreshRow[] = [];
    const fanout: FanoutResult[] = [];
    const cadence: FanoutResult[] = [];
    let paced: PacedResult | undefined;
    let large: FanoutResult | undefined;
    let seats: SeatResults | undefined;
    const onsale: OnSaleResult[] = [];
    let feed: FeedResults | undefined;
    let million: MillionResult | undefined;
    let instances: ScaleRow[] | undefined;
    let cluster: ClusterScaleResult | undefined;
    let failover: FailoverResult | undefined;

    const defaultInterval = loadConfig({}).watchIntervalMs;
    // The scenarios that share one service process (the default WATCH_INTERVAL_MS).
    if (settings.unary || settings.fresh || settings.paced || settings.seats || settings.fanout) {
      const service = await startService(children, {
        redisUrl: embedded.url,
        watchIntervalMs: defaultInterval,
        // The fan-out rows measure every watcher told every change, comparable with the runs before the cadence.
        cadenceOff: true,
        cpuProfileDir: settings.cpuProfileDir && join(settings.cpuProfileDir, "service"),
      });
      if (settings.unary || settings.fresh) {
        const peer = await startPeer(ctx);
        const servers: Servers = { service, peer: { port: peer.port, pid: peer.child.pid } };
        if (settings.unary) {
          console.log("\nUnary calls (h2load):");
          rows.push(...(await ledger.around("unary", () => runUnary(ctx, servers))));
        }
        if (settings.fresh) {
          console.log("\nJoins of new users (Node http2 client):");
          fresh.push(...(await ledger.around("fresh", () => runFresh(ctx, servers))));
        }
        const peerExit = await peer.child.stop("SIGTERM");
        if (peerExit.code !== 0) throw new Error(`peer exited with code ${peerExit.code}, signal ${peerExit.signal}: ${peer.child.output}`);
      }
      if (settings.paced) {
        const levels = settings.pacedLevels.map((l) => `${Math.round(l * 100)}%`).join(", ");
        console.log(`\nJoins of new users at a fixed arrival rate (one open-loop generator process; ${levels} of saturation):`);
        paced = await ledger.around("paced", () => runPaced(ctx, service));
      }
      if (settings.seats) {
        console.log(`\nSeats (Node http2 client, ${settings.repeat} rounds, each on a fresh 100,000-seat event):`);
        seats = await ledger.around("seats", () => runSeats(ctx, service));
      }
      if (settings.fanout) {
        console.log(`\nFan-out (${settings.watchers} WatchPosition streams):`);
        fanout.push(await ledger.around("fanout", () => runFanout(ctx, service, "grpc")));
        if (settings.cadenceRounds > 0) {
          const ahead = settings.cadenceAhead > 0 ? `, ${settings.cadenceAhead} unwatched users ahead of them` : "";
          console.log(`\nWatch cadence (${settings.watchers} streams${ahead}, rounds of ${settings.cadenceLeaves} Leaves ${settings.cadenceGapMs} ms apart):`);
          cadence.push(await ledger.around("fanout-cadence", () => runFanout(ctx, service, "grpc", cadenceRounds(settings))));
        }
      }
      await service.stop();
      console.log("service stopped on SIGTERM with exit code 0");
    }

    if (settings.fanout && settings.cadenceRounds > 0) {
      const cadenced = await startService(children, { redisUrl: embedded.url, watchIntervalMs: defaultInterval });
      await withService(cadenced, async () => {
        cadence.push(await ledger.around("fanout-cadence", () => runFanout(ctx, cadenced, "grpc", cadenceRounds(settings))));
      });
    }

    if (settings.fanout && settings.fastWatchIntervalMs !== defaultInterval) {
      const fast = await startService(children, { redisUrl: embedded.url, watchIntervalMs: settings.fastWatchIntervalMs, cadenceOff: true });
      await withService(fast, async () => {
        fanout.push(await ledger.around("fanout", () => runFanout(ctx, fast, "grpc")));
        if (settings.fanoutConnect) fanout.push(await ledger.around("fanout", () => runFanout(ctx, fast, "connect")));
      });
    }

    if (settings.fanoutLarge) {
      const s = settings;
      const timeout = s.largeRedisTimeoutMs === undefined ? "" : `, REDIS_COMMAND_TIMEOUT_MS=${s.largeRedisTimeoutMs}`;
      console.log(`\nLarge fan-out (${s.largeWatchers} WatchPosition streams from ${s.largeClients} client processes, a fresh service${timeout}):`);
      const clean = await startService(children, {
        redisUrl: embedded.url,
        watchIntervalMs: s.largeWatchIntervalMs ?? defaultInterval,
        cadenceOff: true,
        redisCommandTimeoutMs: s.largeRedisTimeoutMs,
      });
      try {
        large = await ledger.around("fanout-large", () =>
          runFanout(ctx, clean, "grpc", { watchers: s.largeWatchers, clients: s.largeClients, maxOpening: s.largeOpening }),
        );
        // Printed at once: the numbers should survive a slow shutdown.
        console.log(`\n${fanoutTable([large])}\n\n- ${largeTarget(large)}\n`);
      } finally {
        await clean.stop(120_000);
      }
      console.log("service stopped on SIGTERM with exit code 0");
    }

    if (settings.onsale) {
      const s = settings;
      console.log(`\nOn-sale (${s.onsaleUsers} users joining and watching, admitted at ${s.onsaleRate}/s, burst ${s.onsaleBurst}):`);
      for (const variant of ONSALE_VARIANTS.filter((v) => s.only?.has(`onsale-${v}`) ?? true)) {
        onsale.push(await ledger.around(`onsale-${variant}`, () => runOnSale(ctx, variant)));
      }
    }

    if (settings.feed) {
      const s = settings;
      console.log(`\nChange feed (a backlog of ${s.feedEntries} drained by ${s.feedConsumers} consumers, then ${s.feedLiveRate} Joins/s followed live):`);
      feed = await ledger.around("feed", () => runFeed(ctx));
    }

    if (settings.million) {
      const s = settings;
      console.log(`\nOne million waiting (${s.millionUsers} users in one line against ${s.millionSmall}; ${s.millionWatchers} watchers; a service of its own):`);
      million = await ledger.around("million", () => runMillion(ctx));
    }
    if (settings.instances) {
      console.log(`\nOne service process against two (load split over 2 generators, one event):`);
      instances = await ledger.around("instances", () => runInstances(ctx));
    }
    if (settings.cluster) {
      console.log(`\nOne redis-server against a local cluster (${settings.clusterServices} service process${settings.clusterServices > 1 ? "es" : ""}, 3 generators):`);
      cluster = await ledger.around("cluster (single node part)", () => runClusterScale(ctx));
    }
    if (settings.failover) {
      console.log(`\nFailover (ConfirmHold at ${settings.failoverRate}/s, the event's primary killed):`);
      failover = await runFailover(ctx);
    }

    console.log(`\n## Results\n\nNode ${process.version}, redis-server ${machine.redis}\n`);
    if (rows.length + fresh.length > 0) console.log(unaryTable(rows, fresh));
    if (paced) console.log(`\n${pacedTable(paced)}`);
    if (seats) console.log(`\n${seatTable(seats.rows, rows.find((r) => r.key === "baseline"))}\n\nLast round's check — ${seats.verified}`);
    if (fanout.length > 0 || large) console.log(`\n${fanoutTable(large ? [...fanout, large] : fanout)}`);
    if (cadence.length > 0) console.log(`\n${cadenceTable(cadence)}`);
    if (onsale.length > 0) console.log(`\n${onsaleTable(onsale)}`);
    if (feed) console.log(`\n${feedTables(feed)}`);
    if (million) console.log(`\n${millionTables(million)}`);
    if (instances) console.log(`\n${scaleTable(instances, machine.cores)}\n\n${scalingTable(instances, "one", "two")}`);
    if (cluster) {
      const where = cluster.placement.map((e) => `${e.eventId} slot ${e.slot} on :${e.primary}`).join("; ");
      console.log(`\nEvents placed (CLUSTER KEYSLOT, CLUSTER SLOTS): ${where}\n\n${scaleTable(cluster.rows, machine.cores)}`);
      console.log(`\n${scalingTable(cluster.rows, "single", "cluster")}\n\n${scalingTable(cluster.rows, "cluster", "hot")}`);
      console.log(`\nPer Redis node, 3 events on 3 shards:\n\n${nodeTable(cluster.rows, "cluster")}`);
      console.log(`\nPer Redis node, 1 hot event:\n\n${nodeTable(cluster.rows, "hot")}`);
    }
    if (failover) console.log(`\n${failoverTable(failover)}`);
    if (ledger.rows.length > 0) console.log(`\nRedis functions (INFO commandstats, per scenario):\n\n${fcallTable(ledger.rows)}`);
    const lines = [
      ...targets(rows, fanout),
      ...(paced ? pacedTargets(paced) : []),
      ...(large ? [largeTarget(large)] : []),
      ...(seats ? seatTargets(seats.rows, rows.find((r) => r.key === "baseline")) : []),
      ...onsaleTargets(onsale),
      ...(feed ? feedTargets(feed) : []),
      ...(million ? millionTargets(million) : []),
    ];
    console.log(`\n${lines.map((line) => `- ${line}`).join("\n")}`);
    if (failover && failover.problems.length > 0) throw new Error("the failover scenario failed its seat check (see FAIL above)");
    if (feed && !feedPassed(feed)) throw new Error("the change feed scenario failed its checks (see FAIL above)");
  } finally {
    await children.killAll();
    redis?.disconnect();
    await embedded?.stop();
  }
}

async function startPeer(ctx: BenchContext): Promise<{ port: number; child: Child }> {
  const profile = ctx.settings.cpuProfileDir;
  const child = ctx.children.node("peer", "bench/peer-server.ts", {
    env: { REDIS_URL: ctx.redisUrl },
    nodeArgs: profile ? ["--cpu-prof", "--cpu-prof-dir", join(profile, "peer")] : [],
  });
  const ready = await child.message(
    (m): m is { kind: "ready"; port: number } => (m as { kind?: string })?.kind === "ready",
    30_000,
  );
  return { port: ready.port, child };
}

/** Runs `body`, then stops the service and insists on a clean exit. */
async function withService(service: ServiceProcess, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await service.stop();
  }
  console.log("service stopped on SIGTERM with exit code 0");
}

/** The cadence comparison's rounds: a line moving while everyone watches. */
function cadenceRounds(s: BenchSettings): { rounds: number; leavesPerRound: number; leaveGapMs: number; ahead: number } {
  return { rounds: s.cadenceRounds, leavesPerRound: s.cadenceLeaves, leaveGapMs: s.cadenceGapMs, ahead: s.cadenceAhead };
}

/** The large fan-out's target: every stream updated within 500 ms of the Leave. */
function largeTarget(f: FanoutResult): string {
  const worst = Math.max(...f.rounds.map((x) => x.lastMs));
  return `${f.watchers} watchers updated ≤ 500 ms (${f.label}): worst ${worst.toFixed(0)} ms, ${f.rssPerStreamKiB.toFixed(1)} KiB RSS per stream — ${worst <= 500 ? "met" : "NOT met"}`;
}

function settingsLine(s: BenchSettings): string {
  return (
    `Settings: ${s.connections} connections × ${s.streams} streams, ${s.seconds} s per run after ${s.warmupSeconds} s warm-up, ` +
    `${s.repeat} interleaved repeats (median reported); ` +
    `${s.watchers} watchers over ${s.watchSessions} connections, ${s.fanoutRounds} leaves per fan-out scenario`
  );
}

main().catch((err: unknown) => {
  console.error(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
