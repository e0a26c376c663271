/**
 * `npx tsx bench/script-cost.ts`: Redis CPU per call of the Join and the
 * explicit 2-seat HoldSeats scripts, run as Redis Functions (FCALL, through
 * the stores) and, for comparison, as the same prelude and body sent as one
 * script per call (EVALSHA: how they ran before the Functions library), on a
 * private redis-server.
 *
 * The two ways alternate in batches of `BENCH_SCRIPT_BATCH` calls, 64 in
 * flight, so load from other processes falls on both alike; each has its own
 * event (fresh users, fresh seats). Per batch: the script command's own time
 * from `INFO commandstats` and the server's whole CPU (`INFO cpu`, user +
 * sys, protocol and network included). Reported: the median batch of each
 * way, after `BENCH_SCRIPT_WARMUP` unmeasured calls each.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { queueKeys, ticketBucketKey } from "../src/queue/keys.js";
import { QueueStore } from "../src/queue/queue-store.js";
import { loadQueueScripts } from "../src/queue/scripts.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import type { LuaLibrary } from "../src/redis/function-library.js";
import { holdRequestKey, seatKeys } from "../src/seats/keys.js";
import { SeatStore } from "../src/seats/seat-store.js";
import { loadSeatScripts } from "../src/seats/scripts.js";
import { describeMachine, machineLines } from "./machine.js";
import { expectKind, grid, median, parseCommandStats, positive, seatPair } from "./script-bench-kit.js";

const BATCH = positive("BENCH_SCRIPT_BATCH", 2_000);
const BATCHES = positive("BENCH_SCRIPT_BATCHES", 8);
const WARMUP = positive("BENCH_SCRIPT_WARMUP", 2_000);
const IN_FLIGHT = 64;
const SEATS_PER_ROW = 200;

type Call = (i: number) => Promise<void>;
interface Way {
  readonly label: string;
  readonly command: "fcall" | "evalsha";
  readonly call: Call;
}
interface Batch {
  readonly commandUs: number;
  readonly serverUs: number;
}

async function main(): Promise<void> {
  const server = await startEmbeddedRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  try {
    for (const line of machineLines(await describeMachine(redis))) console.log(line);
    console.log(`${BATCHES} batches of ${BATCH} calls per way, alternating, after ${WARMUP} unmeasured; ${IN_FLIGHT} in flight\n`);
    const calls = WARMUP + BATCHES * BATCH;
    const queue = new QueueStore(redis);
    const seats = new SeatStore(redis);

    const joinEval = await evalScript(redis, loadQueueScripts(), "joinQueue");
    const joinEvents = { fcall: "cost-join-fcall", evalsha: "cost-join-eval" };
    for (const eventId of Object.values(joinEvents)) await queue.configure(eventId, { admitRatePerSec: 1 });
    const holdEval = await evalScript(redis, loadSeatScripts(), "holdSeats");
    const holdEvents = { fcall: "cost-hold-fcall", evalsha: "cost-hold-eval" };
    const keyedEvents = { plain: "cost-hold-plain", keyed: "cost-hold-keyed" };
    const rows = Math.ceil((2 * calls) / SEATS_PER_ROW);
    for (const eventId of [...Object.values(holdEvents), ...Object.values(keyedEvents)]) {
      expectKind(await seats.loadSeatMap(eventId, { sections: [grid("A", rows, SEATS_PER_ROW)], tiers: [] }), "loaded");
    }

    // The first store calls above loaded both libraries.
    const load = parseCommandStats(await redis.info("commandstats")).get("function|load");
    const memory = await redis.info("memory");
    console.log(
      `FUNCTION LOAD: ${load?.calls ?? 0} calls (both libraries), ${((load?.usec ?? 0) / 1000).toFixed(2)} ms in all; ` +
        `Lua memory of functions ${field(memory, "used_memory_vm_functions")} bytes, of scripts ${field(memory, "used_memory_vm_eval")} bytes\n`,
    );
    await compare(redis, "Join (joinQueue-6)", [
      { label: "FCALL", command: "fcall", call: async (i) => expectKind(await queue.join(joinEvents.fcall, `user-${i}`), "joined") },
      {
        label: "EVALSHA",
        command: "evalsha",
        call: async (i) => {
          const k = queueKeys("bo:", joinEvents.evalsha);
          const keys = [k.config, k.waiting, ticketBucketKey(k, `user-${i}`), k.stats, k.log, k.active];
          expectCode(await redis.evalsha(joinEval, keys.length, ...keys, "0", `user-${i}`, 0), 3); // JOINED (trim before, user, skew)
        },
      },
    ]);

    await compare(redis, "HoldSeats, 2 explicit seats (holdSeats-11)", [
      {
        label: "FCALL",
        command: "fcall",
        call: async (i) => expectKind(await seats.hold(holdEvents.fcall, `user-${i}`, `hold-${i}`, { kind: "seats", seatIds: seatPair(i, SEATS_PER_ROW) }), "held"),
      },
      {
        label: "EVALSHA",
        command: "evalsha",
        call: async (i) => {
          const k = seatKeys("bo:", holdEvents.evalsha);
          const active = queueKeys("bo:", holdEvents.evalsha).active;
          const keys = [k.config, k.seats, k.taken, k.holds, k.expiry, k.users, k.counts, k.log, k.layout, active, holdRequestKey("bo:", holdEvents.evalsha, `user-${i}`, "")];
          // trim before, hold, user, skew, pass verified, kind, target, quantity, request id, seats
          const args = ["0", `hold-${i}`, `user-${i}`, 0, "0", "seats", "", 0, "", ...seatPair(i, SEATS_PER_ROW)];
          expectCode(await redis.evalsha(holdEval, keys.length, ...keys, ...args), 20); // HELD
        },
      },
    ]);

    // What the idempotency key costs: a GET before, a SET with PX after, and the selection's SHA1.
    await compare(redis, "HoldSeats, 2 explicit seats, with and without a request id (holdSeats-11)", [
      {
        label: "keyed",
        command: "fcall",
        call: async (i) =>
          expectKind(await seats.hold(keyedEvents.keyed, `user-${i}`, `hold-${i}`, { kind: "seats", seatIds: seatPair(i, SEATS_PER_ROW) }, { requestId: `req-${i}` }), "held"),
      },
      {
        label: "plain",
        command: "fcall",
        call: async (i) => expectKind(await seats.hold(keyedEvents.plain, `user-${i}`, `hold-${i}`, { kind: "seats", seatIds: seatPair(i, SEATS_PER_ROW) }), "held"),
      },
    ]);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/**
 * `name`'s script as it ran before the Functions library: the library's
 * prelude followed by the function's body, loaded with SCRIPT LOAD.
 */
async function evalScript(redis: Redis, library: LuaLibrary, name: string): Promise<string> {
  const fn = library.functions.get(name);
  if (!fn) throw new Error(`no function ${name}`);
  const text = library.source;
  const preludeEnd = text.indexOf("-- end of prelude\n") + "-- end of prelude\n".length;
  const prelude = text.slice(text.indexOf("\n") + 1, preludeEnd);
  const opening = `function_name = '${fn.functionName}',`;
  const bodyStart = text.indexOf("callback = function(KEYS, ARGV)\n", text.indexOf(opening)) + "callback = function(KEYS, ARGV)\n".length;
  const bodyEnd = text.indexOf("\n  end,\n}\n", bodyStart);
  if (preludeEnd < "-- end of prelude\n".length || text.indexOf(opening) < 0 || bodyEnd < 0) throw new Error(`cannot find ${name} in its library`);
  const source = `${prelude}${text.slice(bodyStart, bodyEnd)}\n`;
  const sha = String(await redis.script("LOAD", source));
  if (sha !== createHash("sha1").update(source).digest("hex")) throw new Error("SCRIPT LOAD returned another SHA");
  return sha;
}

async function compare(redis: Redis, title: string, ways: readonly Way[]): Promise<void> {
  const next = new Map(ways.map((way) => [way, 0]));
  const run = async (way: Way, n: number): Promise<void> => {
    const from = next.get(way) as number;
    next.set(way, from + n);
    await drive(from, from + n, way.call);
  };
  for (const way of ways) await run(way, WARMUP);
  const batches = new Map<Way, Batch[]>(ways.map((way) => [way, []]));
  for (let b = 0; b < BATCHES; b++) {
    for (const way of b % 2 === 0 ? ways : [...ways].reverse()) {
      await redis.config("RESETSTAT");
      const cpuBefore = await serverCpu(redis);
      await run(way, BATCH);
      const cpuAfter = await serverCpu(redis);
      const stat = parseCommandStats(await redis.info("commandstats")).get(way.command);
      if (stat?.calls !== BATCH) throw new Error(`${way.command} ran ${stat?.calls ?? 0} times, expected ${BATCH}`);
      batches.get(way)?.push({ commandUs: stat.usec / BATCH, serverUs: ((cpuAfter - cpuBefore) * 1e6) / BATCH });
    }
  }
  console.log(`${title}:`);
  for (const way of ways) {
    const list = batches.get(way) ?? [];
    console.log(
      `  ${way.label.padEnd(8)} ${way.command} ${median(list.map((b) => b.commandUs)).toFixed(1)} µs/call, ` +
        `redis-server CPU ${median(list.map((b) => b.serverUs)).toFixed(1)} µs/call ` +
        `(batches: ${list.map((b) => `${b.commandUs.toFixed(0)}/${b.serverUs.toFixed(0)}`).join(" ")})`,
    );
  }
  // Batch b of one way ran right beside batch b of the other: their differences cancel most outside load.
  const [a, b] = ways.map((way) => batches.get(way) ?? []) as [Batch[], Batch[]];
  const diff = (pick: (batch: Batch) => number): string => median(a.map((x, i) => pick(x) - pick(b[i] as Batch))).toFixed(1);
  console.log(`  ${ways[0]?.label} − ${ways[1]?.label}, median of paired batches: ${diff((x) => x.commandUs)} µs/call in the command, ${diff((x) => x.serverUs)} µs/call of redis-server CPU`);
}

async function drive(from: number, to: number, call: Call): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      await call(next++);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  return Number(field(info, "used_cpu_user")) + Number(field(info, "used_cpu_sys"));
}

function field(info: string, name: string): string {
  return new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? "?";
}

function expectCode(reply: unknown, code: number): void {
  if (!Array.isArray(reply) || reply[0] !== code) throw new Error(`expected code ${code}, got ${JSON.stringify(reply)?.slice(0, 80)}`);
}

await main();
