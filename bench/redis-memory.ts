/**
 * `npx tsx bench/redis-memory.ts`: what one waiting user costs Redis, in
 * memory and in CPU, on a private redis-server.
 *
 * Memory: `BENCH_MEMORY_USERS` users join one event through the store (64 in
 * flight); reported is the growth of `INFO memory` used_memory divided by the
 * users, and each of the event's keys by `MEMORY USAGE key SAMPLES 0` (every
 * element counted) divided likewise.
 *
 * CPU: `INFO commandstats` usec_per_call of the command each store call sends
 * (FCALL, or FCALL_RO), per script, in batches of `BENCH_SCRIPT_BATCH` calls
 * after a reset of the statistics, median of `BENCH_SCRIPT_BATCHES` batches;
 * beside it redis-server's whole CPU time per call (`INFO cpu`, protocol
 * included), which other processes on the machine inflate less:
 * a fresh Join (a new user every call, on its own event), a repeated Join (an
 * already waiting user), GetPosition, one idle sweep step over a full batch of
 * the line, a step that expires every waiter it meets (500, and 100: a store
 * whose clock runs past the idle timeout makes the line idle), and an
 * explicit 2-seat HoldSeats.
 */
import { Redis } from "ioredis";
import { QueueStore } from "../src/queue/queue-store.js";
import { QueueDefaults } from "../src/queue/scripts.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { SeatStore } from "../src/seats/seat-store.js";
import { describeMachine, machineLines } from "./machine.js";
import { expectKind, grid, infoField as field, median, parseCommandStats, positive, seatPair, usedMemory } from "./script-bench-kit.js";

const USERS = positive("BENCH_MEMORY_USERS", 200_000);
const BATCH = positive("BENCH_SCRIPT_BATCH", 2_000);
const BATCHES = positive("BENCH_SCRIPT_BATCHES", 8);
const IN_FLIGHT = 64;
/** Sweep steps per batch when every step expires its whole limit (each batch needs limit × this many users). */
const SWEEP_STEPS = 10;
const SEATS_PER_ROW = 200;
const PREFIX = "bo:";

async function main(): Promise<void> {
  const server = await startEmbeddedRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  try {
    for (const line of machineLines(await describeMachine(redis))) console.log(line);
    const config = (await redis.config("GET", "hash-max-*")) as string[];
    console.log(`${config.join(" ")}\n`);
    const queue = new QueueStore(redis);
    const seats = new SeatStore(redis);

    // Memory: one event, USERS waiting.
    const eventId = "memory";
    await queue.configure(eventId, { admitRatePerSec: 1 });
    await queue.join(eventId, "warm-up");
    const before = await usedMemory(redis);
    await drive(0, USERS, async (i) => expectKind(await queue.join(eventId, `user-${i}`), "joined"));
    const after = await usedMemory(redis);
    const keys = await redis.keys(`${PREFIX}{${eventId}}:*`);
    const usage = new Map<string, number>();
    for (const key of keys.sort()) {
      usage.set(structureOf(key, eventId), (usage.get(structureOf(key, eventId)) ?? 0) + Number(await redis.memory("USAGE", key, "SAMPLES", 0)));
    }
    console.log(`Memory, ${USERS} users waiting in one event (user ids user-0 … user-${USERS - 1}):`);
    console.log(`  used_memory delta ${((after - before) / USERS).toFixed(1)} B/user (${after - before} B)`);
    for (const [structure, bytes] of usage) {
      if (bytes / USERS >= 0.05) console.log(`  ${structure.padEnd(24)} ${(bytes / USERS).toFixed(1)} B/user (MEMORY USAGE, ${bytes} B)`);
    }
    console.log(`  keys of the event: ${keys.length}\n`);

    // CPU per script.
    const cpuEvent = "cpu-join";
    await queue.configure(cpuEvent, { admitRatePerSec: 1 });
    let fresh = 0;
    await measure(redis, "Join, a new user (joinQueue)", "fcall", async () =>
      expectKind(await queue.join(cpuEvent, `user-${fresh++}`), "joined"),
    );
    let again = 0;
    await measure(redis, "Join, already waiting (joinQueue)", "fcall", async () =>
      expectKind(await queue.join(cpuEvent, `user-${again++ % fresh}`), "already_joined"),
    );
    let reads = 0;
    await measure(redis, "GetPosition (getPosition)", "fcall", async () =>
      expectKind(await queue.position(cpuEvent, `user-${reads++ % fresh}`), "ticket"),
    );
    await measure(
      redis,
      "Idle sweep, a step of 1000 present waiters (sweepQueue)",
      "fcall",
      async () => {
        const result = await queue.sweep(eventId, 1000);
        if (result.kind !== "swept" || result.expired !== 0) throw new Error(`unexpected sweep ${JSON.stringify(result)}`);
      },
      BATCH / 20,
    );

    // A step when everyone it meets is idle (a crowd gone at once): as many expiries as its limit.
    // A second store whose clock runs past the idle timeout makes the line idle without waiting.
    const late = new QueueStore(redis, { clockSkewMs: () => (QueueDefaults.idleTimeoutSeconds + 1) * 1000 });
    for (const limit of [500, 100]) {
      const idleEvent = `cpu-sweep-idle-${limit}`;
      await queue.configure(idleEvent, { admitRatePerSec: 1 });
      const steps = SWEEP_STEPS * (BATCHES + 1);
      await drive(0, steps * limit + 1, async (i) => expectKind(await queue.join(idleEvent, `user-${i}`), "joined"));
      await measure(
        redis,
        `Idle sweep, a step expiring ${limit} idle waiters (sweepQueue)`,
        "fcall",
        async () => {
          const result = await late.sweepStep(idleEvent, limit, limit);
          if (result.kind !== "swept" || result.expired !== limit) throw new Error(`unexpected sweep ${JSON.stringify(result)}`);
        },
        SWEEP_STEPS,
      );
    }

    const holdEvent = "cpu-hold";
    const rows = Math.ceil((2 * BATCH * (BATCHES + 1)) / SEATS_PER_ROW);
    expectKind(await seats.loadSeatMap(holdEvent, { sections: [grid("A", rows, SEATS_PER_ROW)], tiers: [] }), "loaded");
    let holds = 0;
    await measure(redis, "HoldSeats, 2 explicit seats (holdSeats)", "fcall", async () => {
      const i = holds++;
      expectKind(await seats.hold(holdEvent, `user-${i}`, `hold-${i}`, { kind: "seats", seatIds: seatPair(i, SEATS_PER_ROW) }), "held");
    });
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** A key's structure name: what follows the event's hash tag (`q:waiting`, `log`…), buckets together (`q:t:*`). */
function structureOf(key: string, eventId: string): string {
  return key.slice(`${PREFIX}{${eventId}}:`.length).replace(/:\d+$/, ":*");
}

async function measure(redis: Redis, title: string, command: string, call: () => Promise<void>, batch = BATCH): Promise<void> {
  await drive(0, batch, call); // warm-up
  const perCall: number[] = [];
  const cpuPerCall: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    await redis.config("RESETSTAT");
    const cpuBefore = await serverCpu(redis);
    await drive(0, batch, call);
    const cpuAfter = await serverCpu(redis);
    const stat = parseCommandStats(await redis.info("commandstats")).get(command);
    if (stat?.calls !== batch) throw new Error(`${command} ran ${stat?.calls ?? 0} times, expected ${batch}`);
    perCall.push(stat.usec / batch);
    cpuPerCall.push(((cpuAfter - cpuBefore) * 1e6) / batch);
  }
  console.log(
    `${title.padEnd(56)} ${command} ${median(perCall).toFixed(1)} µs/call (fastest batch ${Math.min(...perCall).toFixed(1)}), ` +
      `redis-server CPU ${median(cpuPerCall).toFixed(1)} µs/call (fastest ${Math.min(...cpuPerCall).toFixed(1)}); ` +
      `batches: ${perCall.map((us, i) => `${us.toFixed(0)}/${(cpuPerCall[i] ?? 0).toFixed(0)}`).join(" ")}`,
  );
}

/** redis-server's own CPU time so far (user + sys), seconds: unlike wall time, not inflated while other processes hold the cores. */
async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  return Number(field(info, "used_cpu_user")) + Number(field(info, "used_cpu_sys"));
}

async function drive(from: number, to: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      await call(next++);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

await main();
