/**
 * The `failover` scenario: on the local cluster, with the service in cluster
 * mode, sales confirmed at a steady rate on one event while the primary of
 * that event's shard is killed (SIGKILL of the redis-server this benchmark
 * started) and its replica promoted with `CLUSTER FAILOVER FORCE` — the
 * launcher's node timeout is 15 s, which the cluster would wait before
 * promoting by itself. Some seconds after the promotion the killed node is
 * started again, and rejoins (empty) as the promoted one's replica. Then
 * every ConfirmHold that answered OK must read CONFIRMED, and the event's
 * counters must match its holds' states.
 *
 * With REDIS_WAIT_REPLICAS=1 (BENCH_FAILOVER_WAIT_REPLICAS, the default) a
 * sale answers OK only once the shard's one replica has it, and that replica
 * is the one promoted: an OK sale missing afterwards fails the run. The
 * promoted primary has no replica until the killed node is back, so its
 * sales answer NOT_REPLICATED meanwhile. With 0, nothing waits: a sale
 * acknowledged just before the kill may not have reached the replica, and
 * the check counts any such loss.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HoldState, LoadSeatMapResponseSchema, SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../gen/grpc/health/v1/health_pb.js";
import type { BenchContext } from "./context.js";
import { cpuMs } from "./children.js";
import type { ConfirmOutcome, FailoverLoadJob, FailoverLoadReport } from "./failover-client.js";
import { callOk, until } from "./h2-unary.js";
import { place, startBenchCluster, type PlacedEvent } from "./local-cluster.js";
import { PAIR, PAIRS_PER_HALF, seatMapRequest } from "./seat-plan.js";
import { HEALTH_CHECK, healthCheckBody, startService } from "./service.js";

const LOAD_SEAT_MAP = "/boxoffice.v1.SeatService/LoadSeatMap";

export interface FailoverResult {
  readonly event: PlacedEvent;
  readonly replica: number;
  readonly rate: number;
  readonly holds: number;
  /** The service's REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
  /** Epoch ms: confirms started, the primary killed, FAILOVER FORCE sent, the replica reporting itself primary. */
  readonly startAt: number;
  readonly killAt: number;
  readonly forceAt: number;
  readonly promotedAt: number;
  /** Epoch ms: the killed node started again, and seen as the promoted one's replica in sync (the shard has its replica back). */
  readonly restartAt: number;
  readonly replicaBackAt: number;
  readonly confirms: readonly ConfirmOutcome[];
  /** Confirms answered OK whose hold does not read CONFIRMED afterwards. */
  readonly lost: number;
  /** Confirms answered with an error whose hold reads CONFIRMED afterwards (took effect; a retry converges). */
  readonly failedButApplied: number;
  /** The holds (by index) that read CONFIRMED afterwards. */
  readonly applied: ReadonlySet<number>;
  /** The counters' check, one sentence, and what it found wrong (nothing, when it passed). */
  readonly invariant: string;
  readonly problems: readonly string[];
  readonly serviceCores: number;
}

export async function runFailover(ctx: BenchContext): Promise<FailoverResult> {
  const s = ctx.settings;
  const holds = Math.ceil(s.failoverRate * (s.failoverBeforeSeconds + s.failoverAfterSeconds) * 1.05);
  if (holds > PAIRS_PER_HALF) throw new Error(`failover: ${holds} holds wanted, the venue's explicit half has ${PAIRS_PER_HALF} pairs`);
  process.stdout.write("  starting a local cluster (3 primaries + 3 replicas) … ");
  const bench = await startBenchCluster();
  console.log("ok");
  try {
    const event = await place(bench.cluster, `bench-failover-${ctx.runId}`);
    const replica = (await bench.cluster.shards()).find((shard) => shard.primary === event.primary)?.replicas[0];
    if (replica === undefined) throw new Error(`primary :${event.primary} has no replica`);
    console.log(`  ${event.eventId}: slot ${event.slot}, primary :${event.primary}, replica :${replica}`);
    const wait = { REDIS_WAIT_REPLICAS: String(s.failoverWaitReplicas), REDIS_WAIT_TIMEOUT_MS: String(s.failoverWaitTimeoutMs) };
    console.log(`  service: REDIS_WAIT_REPLICAS=${wait.REDIS_WAIT_REPLICAS}, REDIS_WAIT_TIMEOUT_MS=${wait.REDIS_WAIT_TIMEOUT_MS}`);
    const service = await startService(ctx.children, { redisClusterNodes: bench.cluster.seeds, watchIntervalMs: 250, env: wait });
    try {
      const body = seatMapRequest(event.eventId, PAIR);
      // Until the new service's Redis monitor has seen every primary, calls are refused (UNAVAILABLE, not attempted).
      const { response } = await until("LoadSeatMap", 60_000, () => callOk(service.grpcPort, LOAD_SEAT_MAP, body, LoadSeatMapResponseSchema, 120_000));
      if (!response.seatMap) throw new Error("LoadSeatMap returned no seat map");
      const job: FailoverLoadJob = {
        port: service.grpcPort,
        eventId: event.eventId,
        holds,
        concurrency: 32,
        rate: s.failoverRate,
        seconds: s.failoverBeforeSeconds + s.failoverAfterSeconds,
        deadlineMs: 5_000,
      };
      const child = ctx.children.node("failover-client", "bench/failover-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
      // Every listener at once: messages sent back to back may arrive in one read and be emitted together.
      const report = child.message((m): m is FailoverLoadReport => (m as { kind?: string })?.kind === "report", 600_000);
      const held = child.message((m): m is { kind: "held" } => (m as { kind?: string })?.kind === "held", 300_000);
      const confirming = child.message(
        (m): m is { kind: "confirming"; at: number } => (m as { kind?: string })?.kind === "confirming",
        300_000,
      );
      for (const p of [report, held, confirming]) p.catch(() => {});
      process.stdout.write(`  ${holds} holds … `);
      await held;
      const { at: startAt } = await confirming;
      const cpuStart = cpuMs(service.child.pid);
      process.stdout.write(`confirming ${s.failoverRate}/s; the primary dies in ${s.failoverBeforeSeconds} s … `);
      await new Promise((resolve) => setTimeout(resolve, startAt + s.failoverBeforeSeconds * 1000 - Date.now()));

      // The benchmark's own connection to the victim would only retry and complain.
      bench.nodes.find((n) => n.name.endsWith(`:${event.primary}`))?.redis.disconnect();
      const killAt = Date.now();
      await bench.cluster.kill(event.primary);
      const forceAt = Date.now();
      const node = bench.cluster.connect(replica);
      let promotedAt: number;
      try {
        await node.cluster("FAILOVER", "FORCE");
        for (;;) {
          if (/role:master/.test(await node.info("replication"))) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        promotedAt = Date.now();
      } finally {
        node.disconnect();
      }
      process.stdout.write(`killed; :${replica} primary after ${promotedAt - killAt} ms … `);
      // The killed node back, empty, as the promoted one's replica: the shard can acknowledge sales again.
      const back = (async (): Promise<{ restartAt: number; replicaBackAt: number }> => {
        await new Promise((resolve) => setTimeout(resolve, promotedAt + s.failoverRestartSeconds * 1000 - Date.now()));
        const restartAt = Date.now();
        await bench.cluster.restart(event.primary);
        const primary = await bench.cluster.waitReplica(event.primary);
        if (primary !== replica) throw new Error(`:${event.primary} came back as a replica of :${primary}, not of :${replica}`);
        return { restartAt, replicaBackAt: Date.now() };
      })();
      back.catch(() => {});
      const { confirms } = await report;
      const serviceCores = (cpuMs(service.child.pid) - cpuStart) / (Date.now() - startAt);
      await child.exited;
      const { restartAt, replicaBackAt } = await back;
      console.log(`${confirms.length} confirms sent; :${event.primary} a replica again ${((replicaBackAt - promotedAt) / 1000).toFixed(2)} s after the promotion`);
      await bench.cluster.waitHealthy();
      // The service finds its way back by itself (its Redis monitor): the check starts once it says SERVING.
      await until("the service serving after the failover", 60_000, async () => {
        const { response } = await callOk(service.grpcPort, HEALTH_CHECK, healthCheckBody, HealthCheckResponseSchema);
        if (response.status !== HealthCheckResponse_ServingStatus.SERVING) throw new Error(`status ${response.status}`);
      });

      const checked = await check(service.grpcPort, event.eventId, (await report).holds, confirms);
      // Waiting for the shard's only replica, the one promoted, makes an OK sale that went missing a bug, not bad luck.
      if (s.failoverWaitReplicas > 0 && checked.lost > 0) {
        checked.problems.push(`${checked.lost} confirms answered OK with REDIS_WAIT_REPLICAS=${s.failoverWaitReplicas} do not read CONFIRMED`);
      }
      return {
        event,
        replica,
        rate: s.failoverRate,
        holds,
        waitReplicas: s.failoverWaitReplicas,
        waitTimeoutMs: s.failoverWaitTimeoutMs,
        startAt,
        killAt,
        forceAt,
        promotedAt,
        restartAt,
        replicaBackAt,
        confirms,
        ...checked,
        serviceCores,
      };
    } finally {
      await service.stop();
    }
  } finally {
    await bench.stop();
  }
}

/**
 * Reads every hold back through the service (GetHold, 32 at a time): the OK
 * confirms must all be CONFIRMED, and the event's counters must equal the
 * seats of the holds by state (sold = 2 × CONFIRMED, held = 2 × HELD).
 */
async function check(
  port: number,
  eventId: string,
  holds: FailoverLoadReport["holds"],
  confirms: readonly ConfirmOutcome[],
): Promise<{ problems: string[]; lost: number; failedButApplied: number; applied: Set<number>; invariant: string }> {
  const seats = createClient(SeatService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const states: Array<HoldState | string> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < holds.length) {
        const n = next++;
        const { holdId, userId } = holds[n] as (typeof holds)[number];
        // A read is safe to repeat: one the busy service refuses (UNAVAILABLE) is asked again.
        for (let attempt = 1; ; attempt++) {
          try {
            states[n] = (await seats.getHold({ eventId, holdId, userId })).hold?.state ?? "none";
            break;
          } catch (err) {
            const code = ConnectError.from(err).code;
            states[n] = Code[code] ?? "error";
            if (code !== Code.Unavailable || attempt === 20) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    }),
  );
  const lost = confirms.filter((c) => c.code === "OK" && states[c.hold] !== HoldState.CONFIRMED).length;
  const failedButApplied = confirms.filter((c) => c.code !== "OK" && states[c.hold] === HoldState.CONFIRMED).length;
  const count = (state: HoldState): number => states.filter((x) => x === state).length;
  const [confirmed, held] = [count(HoldState.CONFIRMED), count(HoldState.HELD)];
  const unreadable = holds.length - confirmed - held;
  const counts = (await seats.getAvailability({ eventId })).availability?.event;
  const problems: string[] = [];
  if (!counts) problems.push("GetAvailability returned no event counts");
  else {
    if (counts.sold !== PAIR * confirmed) problems.push(`sold ${counts.sold} ≠ ${PAIR} × ${confirmed} CONFIRMED holds`);
    if (counts.held !== PAIR * held) problems.push(`held ${counts.held} ≠ ${PAIR} × ${held} HELD holds`);
    if (counts.available !== counts.capacity - counts.sold - counts.held) problems.push(`available ${counts.available} ≠ capacity − sold − held`);
  }
  if (unreadable > 0) problems.push(`${unreadable} holds neither HELD nor CONFIRMED (${[...new Set(states.filter((x) => x !== HoldState.CONFIRMED && x !== HoldState.HELD))].join(", ")})`);
  return {
    problems,
    lost,
    failedButApplied,
    applied: new Set(holds.flatMap((_, n) => (states[n] === HoldState.CONFIRMED ? [n] : []))),
    invariant: `GetAvailability: sold ${counts?.sold} = ${PAIR} × ${confirmed} CONFIRMED holds, held ${counts?.held} = ${PAIR} × ${held} HELD, available = capacity − sold − held`,
  };
}
