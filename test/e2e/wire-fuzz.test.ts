import { randomInt } from "node:crypto";
import { Code } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { ChangeFeedService } from "../../gen/boxoffice/v1/feed_pb.js";
import { ConfigureQueueRequestSchema, QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis.js";
import { randomCase, type FuzzCase } from "../support/fuzz-cases.js";
import { Rng } from "../support/fuzz-values.js";
import { send, SessionPool, type WireOutcome } from "../support/fuzz-wire.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * Thousands of random and hostile requests to every RPC of QueueService,
 * SeatService, ChangeFeedService and Health, on both ports and every
 * protocol (gRPC, gRPC-Web, Connect; JSON and binary; HTTP/2 and HTTP/1.1):
 * hostile strings and numbers, unknown enum values, empty and doubled
 * oneofs, damaged and oversized messages, garbage bodies, wrong content
 * types, bad headers, unknown methods and services.
 *
 * Never INTERNAL or UNKNOWN (nor an HTTP 5xx without a status), never a
 * call left unanswered or an error logged, every INVALID_ARGUMENT with an
 * ErrorInfo, every error a few KB at most; the server answers throughout;
 * and the calls refused as bad input, replayed alone, leave Redis exactly
 * as it was. The server runs on a Redis of its own so that comparison is
 * exact. Seeded: FUZZ_SEED replays a run, FUZZ_COUNT sets its size.
 */

const SEED = process.env["FUZZ_SEED"] ? Number(process.env["FUZZ_SEED"]) : randomInt(2 ** 31);
const COUNT = process.env["FUZZ_COUNT"] ? Number(process.env["FUZZ_COUNT"]) : 2_000;
/** FUZZ_ONLY=12,40: run only those cases of the seed's sequence (to look at one failure). */
const ONLY = process.env["FUZZ_ONLY"] ? new Set(process.env["FUZZ_ONLY"].split(",").map(Number)) : undefined;
const CONCURRENCY = 24;
/** Far longer than any deadline a case carries (0.5 s): a call still running then is left unanswered. */
const CAP_MS = 20_000;
/** "A few KB": the bound on an error's headers and trailers, or its Connect JSON. */
const ERROR_BYTES = 6_144;
/** Plain HTTP refusals that need no RPC status: unknown path, method or content type, too large. */
const HTTP_REFUSALS = [400, 404, 405, 408, 411, 413, 415, 431];

console.log(`wire fuzz: seed ${SEED}, ${COUNT} cases (replay with FUZZ_SEED=${SEED})`);

let redis: EmbeddedRedis;
let server: RunningServer;
const logged: string[] = [];
const rejected: Array<{ fuzz: FuzzCase; outcome: WireOutcome }> = [];

beforeAll(async () => {
  redis = await startEmbeddedRedis();
  // Errors logged by the server are bugs. Sweeps are rare here, and stopped before the replay.
  const logger = pino({ level: "error" }, { write: (line: string) => void logged.push(line) });
  // No background reads of Redis (sweeps, the metrics' per-event refresh) between the snapshots: only calls count.
  server = await startServer({ SWEEP_INTERVAL_MS: "60000", METRICS_PORT: "off" }, { redisUrl: redis.url, logger });
});

afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

const methods = [QueueService, SeatService, ChangeFeedService, Health].flatMap((service) => service.methods.map((method) => ({ service, method })));

/** Runs every case, `CONCURRENCY` at a time. */
async function runAll(pool: SessionPool, cases: readonly FuzzCase[]): Promise<WireOutcome[]> {
  const outcomes: WireOutcome[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const i = next++;
        outcomes[i] = await send(pool, cases[i]!.request, CAP_MS);
      }
    }),
  );
  return outcomes;
}

/** What is wrong with an outcome, or undefined. */
function problemOf(fuzz: FuzzCase, o: WireOutcome): string | undefined {
  if (o.cut) return "no answer within the cap";
  if (o.reset !== undefined) return `no answer: ${o.reset}`;
  if (o.code === undefined) {
    if (!HTTP_REFUSALS.includes(o.httpStatus)) return `HTTP ${o.httpStatus} without an RPC status: ${o.raw}`;
    return undefined;
  }
  if (o.code === Code.Internal || o.code === Code.Unknown) return `${Code[o.code]}`;
  if (o.code === Code.InvalidArgument && o.errorInfo?.domain !== "boxoffice.v1") return "INVALID_ARGUMENT without an ErrorInfo";
  if (o.errorBytes > ERROR_BYTES) return `error of ${o.errorBytes} bytes`;
  if (o.code === Code.Canceled) return "CANCELED without a cancel";
  if (o.code === Code.Unimplemented && !fuzz.unroutable) return "UNIMPLEMENTED for a known method";
  return undefined;
}

/** Refused as bad input, before any store call: these must leave Redis untouched. */
function refusedAsBadInput(o: WireOutcome): boolean {
  if (o.code === undefined) return !o.cut && o.reset === undefined;
  if (o.code === Code.InvalidArgument) return o.errorInfo?.reason === "INVALID_REQUEST";
  return o.code === Code.Unimplemented || (o.code === Code.ResourceExhausted && o.errorInfo === undefined);
}

async function healthy(pool: SessionPool): Promise<Array<number | undefined>> {
  const check = (baseUrl: string) =>
    send(pool, { baseUrl, http: "h2", method: "POST", path: "/grpc.health.v1.Health/Check", headers: { "content-type": "application/grpc" }, body: new Uint8Array(5) }, CAP_MS);
  return (await Promise.all([check(server.grpcUrl), check(server.connectUrl)])).map((o) => o.code);
}

it(`answers ${COUNT} random and hostile requests on both ports without INTERNAL, UNKNOWN, silence or unbounded errors`, { timeout: 120_000 }, async () => {
  const rng = new Rng(SEED);
  const targets = { grpcUrl: server.grpcUrl, connectUrl: server.connectUrl, methods };
  const cases = Array.from({ length: COUNT }, (_, n) => randomCase(rng, n, targets)).filter((c) => ONLY === undefined || ONLY.has(c.n));
  const pool = new SessionPool();
  try {
    const outcomes = await runAll(pool, cases);
    const problems: string[] = [];
    const tally = new Map<string, number>();
    cases.forEach((fuzz, i) => {
      const o = outcomes[i]!;
      const key = o.code === undefined ? `HTTP ${o.httpStatus}` : (Code[o.code] ?? "OK");
      tally.set(key, (tally.get(key) ?? 0) + 1);
      const problem = problemOf(fuzz, o);
      if (problem !== undefined) problems.push(`#${fuzz.n} ${fuzz.label}: ${problem}${o.errorInfo ? ` (${o.errorInfo.reason})` : ""}`);
      else if (refusedAsBadInput(o)) rejected.push({ fuzz, outcome: o });
    });
    console.log(`wire fuzz outcomes: ${JSON.stringify(Object.fromEntries([...tally].sort((a, b) => b[1] - a[1])))}`);
    expect(problems.slice(0, 40)).toEqual([]);
    expect(logged).toEqual([]);
    // Past all that, both ports still answer.
    expect(await healthy(pool)).toEqual([0, 0]);
    // The run exercised both refusals and calls that went through.
    if (ONLY === undefined) {
      expect(rejected.length).toBeGreaterThan(COUNT / 10);
      expect(tally.get("OK") ?? 0).toBeGreaterThan(0);
    }
  } finally {
    pool.close();
  }
});

it("leaves Redis untouched for every call refused as bad input (replayed alone: DBSIZE, outbox XLENs, FCALLs)", { timeout: 120_000 }, async () => {
  expect(rejected.length).toBeGreaterThan(0);
  // Nothing else may reach Redis now: the accepted streams of the run have ended, and the sweeps stop.
  await vi.waitFor(() => expect(server.app.streams.open).toBe(0), { timeout: 10_000 });
  await Promise.all([server.app.sweeper.stop(), server.app.reaper.stop()]);
  const pool = new SessionPool();
  try {
    const before = await snapshot();
    const replayed = await runAll(pool, rejected.map((r) => r.fuzz));
    const after = await snapshot();
    expect(after).toEqual(before);
    // Refused again the same way (a deadline that ran out first on a busy machine is no different for Redis).
    const changed = rejected
      .map((r, i) => ({ ...r, again: replayed[i]! }))
      .filter(({ outcome, again }) => again.code !== outcome.code && again.code !== Code.DeadlineExceeded)
      .map(({ fuzz, outcome, again }) => `#${fuzz.n} ${fuzz.label}: ${outcome.code} then ${again.code}`);
    expect(changed).toEqual([]);
    // The control: one call that goes through does show in the snapshot.
    const configure = toBinary(ConfigureQueueRequestSchema, create(ConfigureQueueRequestSchema, { eventId: "control" }));
    const body = Buffer.concat([Buffer.from([0, 0, 0, 0, configure.byteLength]), configure]);
    const accepted = await send(pool, { baseUrl: server.grpcUrl, http: "h2", method: "POST", path: "/boxoffice.v1.QueueService/ConfigureQueue", headers: { "content-type": "application/grpc" }, body }, CAP_MS);
    expect(accepted.code).toBe(0);
    const control = await snapshot();
    expect(control.fcalls).toBeGreaterThan(after.fcalls);
    expect(control.dbsize).toBeGreaterThan(after.dbsize);
  } finally {
    pool.close();
  }
});

/** Every key count, every stream's length, and how many functions Redis has run. */
async function snapshot(): Promise<{ dbsize: number; streams: Record<string, number>; fcalls: number }> {
  const streams: Record<string, number> = {};
  let cursor = "0";
  do {
    const [nextCursor, keys] = await server.redis.scan(cursor, "COUNT", 1000, "TYPE", "stream");
    for (const key of keys) streams[key] = await server.redis.xlen(key);
    cursor = nextCursor;
  } while (cursor !== "0");
  const stats = await server.redis.info("commandstats");
  const fcalls = [...stats.matchAll(/^cmdstat_(?:fcall|fcall_ro|evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  return { dbsize: await server.redis.dbsize(), streams, fcalls };
}
