import type { Redis } from "ioredis";
import { queueKeys, TICKET_BUCKETS } from "../src/queue/keys.js";
import { type BenchContext, PAUSED } from "./context.js";
import { numberedUserId } from "./grpc-wire.js";
import { usedMemory } from "./script-bench-kit.js";

/** The key prefix the service uses by default (`REDIS_KEY_PREFIX`). */
const KEY_PREFIX = "bo:";

/**
 * The idle timeout the lines are created with: a day, so that nobody expires
 * while the scenario measures; the sweep part lowers it to the smallest one
 * allowed (1 s) when it wants everyone idle.
 */
export const LONG_IDLE_SECONDS = 86_400;

/**
 * One event's line: `head-0 … head-<heads-1>` at the front (the fan-out's
 * leavers), then `users` users named as `JoinBodies` names them
 * (`numberedUserId(prefix, u, users)`), user u at `firstPosition + u`.
 */
export interface Line {
  readonly eventId: string;
  readonly prefix: string;
  readonly users: number;
  readonly heads: number;
  readonly firstPosition: number;
}

/** How a line was filled: wall time, and `INFO memory` used_memory before and after. */
export interface Fill {
  readonly line: Line;
  readonly seconds: number;
  readonly memoryBefore: number;
  readonly memoryAfter: number;
}

/**
 * Creates a paused event and fills its line through the store: the heads one
 * by one, then the users in batches of `settings.millionFillBatch` joins sent
 * together (ioredis pipelines them into one round trip), each reply checked.
 */
export async function fillLine(ctx: BenchContext, eventId: string, users: number, progress = false): Promise<Fill> {
  const heads = ctx.settings.fanoutRounds;
  const batch = ctx.settings.millionFillBatch;
  const line: Line = { eventId, prefix: "m-", users, heads, firstPosition: heads + 1 };
  await ctx.store.configure(eventId, { state: PAUSED, idleTimeoutSeconds: LONG_IDLE_SECONDS });
  const memoryBefore = await usedMemory(ctx.redis);
  const started = performance.now();
  for (let i = 0; i < heads; i++) expectJoined(await ctx.store.join(eventId, `head-${i}`), eventId);
  let shown = 0;
  for (let start = 0; start < users; start += batch) {
    const end = Math.min(users, start + batch);
    const results = await Promise.all(
      Array.from({ length: end - start }, (_, i) => ctx.store.join(eventId, numberedUserId(line.prefix, start + i, users))),
    );
    for (const result of results) expectJoined(result, eventId);
    if (progress && end >= ((shown + 1) * users) / 10) {
      shown = Math.floor((10 * end) / users);
      process.stdout.write(` ${shown * 10}%`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const memoryAfter = await usedMemory(ctx.redis);
  const waiting = await waitingCount(ctx, eventId);
  if (waiting !== heads + users) throw new Error(`${eventId}: ${waiting} waiting after the fill, expected ${heads + users}`);
  return { line, seconds, memoryBefore, memoryAfter };
}

/** Users waiting in an event's line (`readQueueStats`). */
export async function waitingCount(ctx: BenchContext, eventId: string): Promise<number> {
  const stats = await ctx.store.stats(eventId);
  if (stats.kind !== "stats") throw new Error(`${eventId}: ${stats.kind}`);
  return stats.stats.waiting;
}

function expectJoined(result: { readonly kind: string }, eventId: string): void {
  if (result.kind !== "joined") throw new Error(`filling ${eventId}: ${result.kind}`);
}

/** `MEMORY USAGE … SAMPLES 0` (every element counted) of one event's structures, and how its ticket buckets are encoded. */
export interface LineMemory {
  readonly waitingBytes: number;
  readonly ticketBytes: number;
  readonly logBytes: number;
  readonly otherBytes: number;
  /** Ticket buckets by `OBJECT ENCODING` (listpack, hashtable). */
  readonly bucketEncodings: Readonly<Record<string, number>>;
  /** Entries of the fullest bucket. */
  readonly fullestBucket: number;
}

/**
 * Reads the size of every key of an event's queue by name (no key scan),
 * the 4,096 ticket buckets in one pipeline. Walking a 1,000,000-entry sorted
 * set with SAMPLES 0 blocks Redis for a while: call it outside measurements.
 */
export async function lineMemory(redis: Redis, eventId: string): Promise<LineMemory> {
  const k = queueKeys(KEY_PREFIX, eventId);
  const usage = async (key: string): Promise<number> => Number((await redis.memory("USAGE", key, "SAMPLES", 0)) ?? 0);
  const buckets = Array.from({ length: TICKET_BUCKETS }, (_, i) => `${k.tickets}${i}`);
  const pipeline = redis.pipeline();
  for (const key of buckets) pipeline.memory("USAGE", key, "SAMPLES", 0).object("ENCODING", key).hlen(key);
  const replies = (await pipeline.exec()) ?? [];
  let ticketBytes = 0;
  let fullestBucket = 0;
  const bucketEncodings: Record<string, number> = {};
  for (let i = 0; i < buckets.length; i++) {
    const [bytes, encoding, entries] = [replies[3 * i]?.[1], replies[3 * i + 1]?.[1], replies[3 * i + 2]?.[1]];
    ticketBytes += Number(bytes ?? 0);
    fullestBucket = Math.max(fullestBucket, Number(entries ?? 0));
    const name = String(encoding ?? "missing");
    bucketEncodings[name] = (bucketEncodings[name] ?? 0) + 1;
  }
  const others = await Promise.all([k.config, k.stats, k.active, k.bucket].map(usage));
  return {
    waitingBytes: await usage(k.waiting),
    ticketBytes,
    logBytes: await usage(k.log),
    otherBytes: others.reduce((a, b) => a + b, 0),
    bucketEncodings,
    fullestBucket,
  };
}
