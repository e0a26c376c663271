/**
 * `npx tsx bench/script-cost.ts`: Redis CPU per call of the Join and the
 * explicit 2-seat HoldSeats scripts, through the stores, on a private
 * redis-server.
 *
 * Per round: a fresh event, `BENCH_SCRIPT_WARMUP` unmeasured calls, then
 * `CONFIG RESETSTAT` and `BENCH_SCRIPT_CALLS` measured calls, 64 in flight.
 * Two figures per call: the script command's own time from `INFO
 * commandstats` (whichever of evalsha, eval, fcall, fcall_ro ran), and the
 * server's whole CPU (`INFO cpu`, user + sys, protocol and network included)
 * over the round. `BENCH_SCRIPT_ROUNDS` rounds; the median is reported.
 */
import { Redis } from "ioredis";
import { QueueStore } from "../src/queue/queue-store.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { SeatStore } from "../src/seats/seat-store.js";
import type { SeatMapSection } from "../src/seats/types.js";
import { describeMachine, machineLines } from "./machine.js";

const CALLS = positive("BENCH_SCRIPT_CALLS", 20_000);
const WARMUP = positive("BENCH_SCRIPT_WARMUP", 2_000);
const ROUNDS = positive("BENCH_SCRIPT_ROUNDS", 5);
const IN_FLIGHT = 64;
const SCRIPT_COMMANDS = ["evalsha", "eval", "fcall", "fcall_ro"];

interface Round {
  readonly calls: number;
  /** µs per call inside the script command (commandstats). */
  readonly commandUs: number;
  /** µs of redis-server CPU per call, everything included. */
  readonly serverUs: number;
  readonly command: string;
}

async function main(): Promise<void> {
  const server = await startEmbeddedRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  try {
    for (const line of machineLines(await describeMachine(redis))) console.log(line);
    console.log(`Calls per round: ${CALLS} (after ${WARMUP} unmeasured), ${IN_FLIGHT} in flight, ${ROUNDS} rounds\n`);
    const queue = new QueueStore(redis);
    const seats = new SeatStore(redis);

    const joins: Round[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const eventId = `cost-join-${round}`;
      await queue.configure(eventId, { admitRatePerSec: 1 });
      joins.push(
        await measure(redis, WARMUP, CALLS, async (i) => {
          const result = await queue.join(eventId, `user-${i}`);
          if (result.kind !== "joined") throw new Error(`join ${i}: ${result.kind}`);
        }),
      );
    }
    report("Join (joinQueue-8)", joins);

    const holds: Round[] = [];
    const rows = Math.ceil((2 * (WARMUP + CALLS)) / 200);
    for (let round = 0; round < ROUNDS; round++) {
      const eventId = `cost-hold-${round}`;
      const loaded = await seats.loadSeatMap(eventId, { sections: [grid("A", rows, 200)], tiers: [] });
      if (loaded.kind !== "loaded") throw new Error(`seat map: ${loaded.kind}`);
      holds.push(
        await measure(redis, WARMUP, CALLS, async (i) => {
          const r = Math.floor((2 * i) / 200) + 1;
          const s = ((2 * i) % 200) + 1;
          const seatIds = [`A-R${r}-${s}`, `A-R${r}-${s + 1}`];
          const result = await seats.hold(eventId, `user-${i}`, `hold-${i}`, { kind: "seats", seatIds });
          if (result.kind !== "held") throw new Error(`hold ${i}: ${result.kind}`);
        }),
      );
    }
    report("HoldSeats, 2 explicit seats (holdSeats-10)", holds);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

async function measure(redis: Redis, warmup: number, calls: number, call: (i: number) => Promise<void>): Promise<Round> {
  await drive(0, warmup, call);
  await redis.config("RESETSTAT");
  const cpuBefore = await serverCpu(redis);
  await drive(warmup, warmup + calls, call);
  const cpuAfter = await serverCpu(redis);
  const stats = parseCommandStats(await redis.info("commandstats"));
  const ran = SCRIPT_COMMANDS.filter((name) => (stats.get(name)?.calls ?? 0) > 0);
  if (ran.length !== 1) throw new Error(`expected one script command, found ${ran.join(", ") || "none"}`);
  const command = ran[0] as string;
  const stat = stats.get(command) as { calls: number; usec: number };
  if (stat.calls !== calls) throw new Error(`${command} ran ${stat.calls} times, expected ${calls}`);
  return { calls, command, commandUs: stat.usec / calls, serverUs: ((cpuAfter - cpuBefore) * 1e6) / calls };
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

async function serverCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
}

function parseCommandStats(info: string): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+),/gm)) {
    stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

function report(title: string, rounds: readonly Round[]): void {
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const command = rounds[0]?.command ?? "?";
  console.log(
    `${title}: ${command} ${median(rounds.map((r) => r.commandUs)).toFixed(1)} µs/call, ` +
      `redis-server CPU ${median(rounds.map((r) => r.serverUs)).toFixed(1)} µs/call (median of ${rounds.length})`,
  );
  console.log(`  rounds: ${rounds.map((r) => `${r.commandUs.toFixed(1)}/${r.serverUs.toFixed(1)}`).join("  ")}`);
}

function grid(sectionId: string, rows: number, seats: number): SeatMapSection {
  return {
    sectionId,
    rows: Array.from({ length: rows }, (_, r) => ({
      rowId: `R${r + 1}`,
      seatIds: Array.from({ length: seats }, (_, s) => `${sectionId}-R${r + 1}-${s + 1}`),
    })),
  };
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

await main();
