/**
 * `npx tsx bench/deep-line.ts`: a deep line in Redis — memory per waiting
 * user, and what one idle-sweep step costs Redis by how many it expires —
 * under each `hash-max-listpack-entries` of `BENCH_DEEP_LISTPACK`.
 *
 * For each setting, a private redis-server (set with CONFIG SET before
 * anything is written, as a config file would): users join one event through
 * the store in batches sent together, up to each depth of
 * `BENCH_DEEP_USERS`; at each, the growth of `INFO memory` used_memory per
 * user since the empty event, and how many of the 4,096 ticket buckets are
 * still listpacks. Then, on the deepest line, sweep steps of
 * `BENCH_SWEEP_LIMIT` waiters that expire `BENCH_SWEEP_SHARES` each: a second
 * store whose clock runs past the idle timeout makes the whole line idle,
 * so every step expires exactly its share. Per step, `INFO commandstats`
 * FCALL µs (wall time inside Redis) and redis-server's CPU time (`INFO cpu`,
 * which other processes on the machine inflate less), median of
 * `BENCH_SCRIPT_BATCHES` batches of `BENCH_SWEEP_STEPS` steps. Before the
 * sweeps, GetPosition and a repeated Join of users spread over the deepest
 * line (64 in flight), per call likewise, in batches of `BENCH_SCRIPT_BATCH`.
 */
import { Redis } from "ioredis";
import { queueKeys, TICKET_BUCKETS } from "../src/queue/keys.js";
import { QueueStore } from "../src/queue/queue-store.js";
import { QueueDefaults } from "../src/queue/scripts.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { describeMachine, machineLines } from "./machine.js";
import { expectKind, median, parseCommandStats, positive } from "./script-bench-kit.js";

const DEPTHS = list("BENCH_DEEP_USERS", [200_000, 1_000_000]);
const LISTPACK = list("BENCH_DEEP_LISTPACK", [128, 512]);
const SHARES = list("BENCH_SWEEP_SHARES", [500, 100, 50]);
const LIMIT = positive("BENCH_SWEEP_LIMIT", 500);
const STEPS = positive("BENCH_SWEEP_STEPS", 10);
const BATCHES = positive("BENCH_SCRIPT_BATCHES", 8);
const CALLS = positive("BENCH_SCRIPT_BATCH", 2_000);
const FILL_BATCH = 5_000;
const PREFIX = "bo:";
const EVENT = "deep";

async function main(): Promise<void> {
  for (const entries of LISTPACK) {
    const server = await startEmbeddedRedis();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
    try {
      await redis.config("SET", "hash-max-listpack-entries", String(entries));
      if (entries === LISTPACK[0]) for (const line of machineLines(await describeMachine(redis))) console.log(line);
      console.log(`\nhash-max-listpack-entries ${entries}`);
      const queue = new QueueStore(redis, { keyPrefix: PREFIX });
      await queue.configure(EVENT, { admitRatePerSec: 1 });
      const empty = await usedMemory(redis);
      let joined = 0;
      for (const depth of DEPTHS) {
        const started = performance.now();
        for (; joined < depth; joined = Math.min(depth, joined + FILL_BATCH)) {
          const batch = Array.from({ length: Math.min(FILL_BATCH, depth - joined) }, (_, i) => `user-${joined + i}`);
          for (const result of await Promise.all(batch.map((user) => queue.join(EVENT, user)))) expectKind(result, "joined");
        }
        const grown = (await usedMemory(redis)) - empty;
        const encodings = await bucketEncodings(redis, queue);
        console.log(
          `  ${depth} waiting: used_memory delta ${(grown / depth).toFixed(1)} B/user (${grown} B); ` +
            `buckets ${[...encodings].map(([encoding, n]) => `${n} ${encoding}`).join(", ")}; ` +
            `filled in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      }
      await measureCalls(redis, "GetPosition", "fcall", async (i) => expectKind(await queue.position(EVENT, spread(i, joined)), "ticket"));
      await measureCalls(redis, "Join, already waiting", "fcall", async (i) => expectKind(await queue.join(EVENT, spread(i, joined)), "already_joined"));
      // Every waiter is idle to this store: each step expires exactly its share.
      const late = new QueueStore(redis, { keyPrefix: PREFIX, clockSkewMs: () => (QueueDefaults.idleTimeoutSeconds + 1) * 1000 });
      for (const share of SHARES) {
        await measureSteps(redis, late, share);
      }
    } finally {
      redis.disconnect();
      await server.stop();
    }
  }
}

async function measureSteps(redis: Redis, late: QueueStore, share: number): Promise<void> {
  const step = async (): Promise<void> => {
    const result = await late.sweepStep(EVENT, LIMIT, share);
    if (result.kind !== "swept" || result.expired !== share || !result.more) throw new Error(`unexpected sweep ${JSON.stringify(result)}`);
  };
  for (let i = 0; i < STEPS; i++) await step(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    await redis.config("RESETSTAT");
    const before = await serverCpu(redis);
    for (let i = 0; i < STEPS; i++) await step();
    const after = await serverCpu(redis);
    const stat = parseCommandStats(await redis.info("commandstats")).get("fcall");
    if (stat?.calls !== STEPS) throw new Error(`fcall ran ${stat?.calls ?? 0} times, expected ${STEPS}`);
    wall.push(stat.usec / STEPS / 1000);
    cpu.push(((after - before) * 1000) / STEPS);
  }
  const line = await redis.zcard(queueKeys(PREFIX, EVENT).waiting);
  console.log(
    `  a step expiring ${String(share).padStart(3)} of ${line} waiting: redis-server CPU ${median(cpu).toFixed(2)} ms ` +
      `(fastest batch ${Math.min(...cpu).toFixed(2)}; ${((median(cpu) * 1000) / share).toFixed(1)} µs/expiry), ` +
      `FCALL ${median(wall).toFixed(2)} ms (fastest ${Math.min(...wall).toFixed(2)})`,
  );
}

/** Calls of the deepest line, 64 in flight: FCALL µs and redis-server CPU µs per call, median of the batches. */
async function measureCalls(redis: Redis, title: string, command: string, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    const end = next + CALLS;
    const worker = async (): Promise<void> => {
      while (next < end) await call(next++);
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  };
  await run(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    await redis.config("RESETSTAT");
    const before = await serverCpu(redis);
    await run();
    const after = await serverCpu(redis);
    const stat = parseCommandStats(await redis.info("commandstats")).get(command);
    if (stat?.calls !== CALLS) throw new Error(`${command} ran ${stat?.calls ?? 0} times, expected ${CALLS}`);
    wall.push(stat.usec / CALLS);
    cpu.push(((after - before) * 1e6) / CALLS);
  }
  console.log(
    `  ${title}: redis-server CPU ${median(cpu).toFixed(1)} µs/call (fastest batch ${Math.min(...cpu).toFixed(1)}), ` +
      `FCALL ${median(wall).toFixed(1)} µs (fastest ${Math.min(...wall).toFixed(1)})`,
  );
}

/** The i-th user of a spread over the line (consecutive calls land far apart). */
function spread(i: number, users: number): string {
  return `user-${(i * 618_001) % users}`;
}

/** How many of the event's ticket buckets Redis keeps in each encoding. */
async function bucketEncodings(redis: Redis, queue: QueueStore): Promise<Map<string, number>> {
  const pipeline = redis.pipeline();
  for (let b = 0; b < TICKET_BUCKETS; b++) pipeline.object("ENCODING", `${queue.keys(EVENT).tickets}${b}`);
  const counts = new Map<string, number>();
  for (const [error, value] of (await pipeline.exec()) ?? []) {
    const encoding = error === null && typeof value === "string" ? value : "absent";
    counts.set(encoding, (counts.get(encoding) ?? 0) + 1);
  }
  return counts;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(field(await redis.info("memory"), "used_memory"));
}

/** redis-server's own CPU time so far (user + sys), seconds. */
async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  return Number(field(info, "used_cpu_user")) + Number(field(info, "used_cpu_sys"));
}

function field(info: string, name: string): string {
  return new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? "?";
}

/** A comma-separated list of positive integers from the environment. */
function list(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return [...fallback];
  const values = raw.split(",").map(Number);
  if (!values.every((v) => Number.isSafeInteger(v) && v > 0)) throw new Error(`${name} must be positive integers, got ${raw}`);
  return values;
}

await main();
