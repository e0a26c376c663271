/**
 * `npm run bench:outage`: how Boxoffice rides out a Redis outage.
 *
 * Starts a private redis-server and the service (`src/main.ts`, its own
 * process, default settings), then repeatedly breaks Redis — killed and
 * started again on its port, or frozen with SIGSTOP and thawed — and
 * measures from a gRPC client:
 *
 * - how long a Join sent at the break takes to fail, and with which code;
 * - how long until health Watch reports NOT_SERVING;
 * - after Redis is back: until health reports SERVING, until a Join
 *   succeeds, and until a newly joined user is admitted (admitter included);
 * - for the freeze: how many of the Joins that failed took effect anyway
 *   once Redis resumed (the outcome callers must treat as unknown).
 *
 * Knobs: OUTAGE_ROUNDS (default 5), OUTAGE_HOLD_MS (how long Redis stays
 * broken, default 2000), OUTAGE_JOINS (Joins sent at each break, default 20).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { QueueService, TicketState } from "../gen/boxoffice/v1/queue_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../src/redis/embedded-redis.js";
import { ChildSet } from "./children.js";
import { startService } from "./service.js";

const ROUNDS = Number(process.env["OUTAGE_ROUNDS"] ?? 5);
const HOLD_MS = Number(process.env["OUTAGE_HOLD_MS"] ?? 2000);
const JOINS = Number(process.env["OUTAGE_JOINS"] ?? 20);
const DEADLINE_MS = 5_000;

type Kind = "killed" | "frozen";

interface Round {
  readonly kind: Kind;
  /** First Join sent at the break: how long until it failed, and how. */
  readonly failMs: number;
  readonly failCode: string;
  readonly notServingMs: number;
  readonly servingMs: number;
  readonly joinMs: number;
  readonly admitMs: number;
  /** Joins that failed during the break, and how many of them took effect after all. */
  readonly failedJoins: number;
  readonly tookEffect: number | undefined;
}

async function main(): Promise<void> {
  const children = new ChildSet();
  process.once("SIGINT", () => process.exit(130));
  let redis: EmbeddedRedis | undefined = await startEmbeddedRedis();
  const port = redis.port;
  const service = await startService(children, { redisUrl: redis.url, watchIntervalMs: 250 });
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.grpcPort}` });
  const queue = createClient(QueueService, transport);
  const health = createClient(Health, transport);
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of ["killed", "frozen"] as const) {
        const current = redis as EmbeddedRedis;
        const round = await measure(kind, queue, health, {
          async breakIt() {
            if (kind === "frozen") {
              process.kill(current.pid, "SIGSTOP");
            } else {
              process.kill(current.pid, "SIGKILL");
              await current.stop();
            }
          },
          async restore() {
            if (kind === "frozen") {
              process.kill(current.pid, "SIGCONT");
            } else {
              redis = await startEmbeddedRedis({ port });
            }
          },
        });
        rounds.push(round);
        console.log(JSON.stringify(round));
      }
    }
  } finally {
    await service.stop().catch((err: unknown) => console.error(String(err)));
    if (redis) process.kill(redis.pid, "SIGCONT");
    await redis?.stop();
  }
  report(rounds);
}

async function measure(
  kind: Kind,
  queue: Client<typeof QueueService>,
  health: Client<typeof Health>,
  outage: { breakIt(): Promise<void>; restore(): Promise<void> },
): Promise<Round> {
  const eventId = `outage-${randomBytes(6).toString("hex")}`;
  await queue.configureQueue({ eventId, admitRatePerSec: 1000 });
  const statuses = health.watch({ service: "" })[Symbol.asyncIterator]();
  const until = async (wanted: Status): Promise<void> => {
    for (;;) {
      const step = await statuses.next();
      if (step.done) throw new Error("health watch ended");
      if (step.value.status === wanted) return;
    }
  };
  await until(Status.SERVING);

  const broken = performance.now();
  await outage.breakIt();
  const joins = Array.from({ length: JOINS }, (_, i) => attempt(() => queue.join({ eventId, userId: `u${i}` }, { timeoutMs: DEADLINE_MS })));
  await until(Status.NOT_SERVING);
  const notServingMs = performance.now() - broken;
  const outcomes = await Promise.all(joins);
  const first = outcomes[0] as Outcome;
  await sleep(Math.max(0, HOLD_MS - (performance.now() - broken)));

  await outage.restore();
  const back = performance.now();
  await until(Status.SERVING);
  const servingMs = performance.now() - back;
  if (kind === "killed") {
    // An empty Redis: the event starts over.
    await queue.configureQueue({ eventId, admitRatePerSec: 1000 });
  }
  for (;;) {
    const joined = await attempt(() => queue.join({ eventId, userId: "after" }, { timeoutMs: DEADLINE_MS }));
    if (joined.code === "OK") break;
    await sleep(5);
  }
  const joinMs = performance.now() - back;
  for await (const message of queue.watchPosition({ eventId, userId: "after" })) {
    if (message.ticket?.state === TicketState.ADMITTED) break;
  }
  const admitMs = performance.now() - back;

  const failed = outcomes.map((o, i) => ({ ...o, userId: `u${i}` })).filter((o) => o.code !== "OK");
  let tookEffect: number | undefined;
  if (kind === "frozen") {
    const found = await Promise.all(failed.map((o) => attempt(() => queue.getPosition({ eventId, userId: o.userId }))));
    tookEffect = found.filter((o) => o.code === "OK").length;
  }
  await statuses.return?.();
  return {
    kind,
    failMs: Math.round(first.ms),
    failCode: first.code,
    notServingMs: Math.round(notServingMs),
    servingMs: Math.round(servingMs),
    joinMs: Math.round(joinMs),
    admitMs: Math.round(admitMs),
    failedJoins: failed.length,
    tookEffect,
  };
}

interface Outcome {
  readonly code: string;
  readonly ms: number;
}

async function attempt(call: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    await call();
    return { code: "OK", ms: performance.now() - started };
  } catch (err) {
    return { code: Code[ConnectError.from(err).code], ms: performance.now() - started };
  }
}

function report(rounds: readonly Round[]): void {
  console.log(`\nRedis outage, ${ROUNDS} rounds each, Redis broken for ${HOLD_MS} ms (median / max, ms)\n`);
  console.log("| Redis | first Join fails | NOT_SERVING after | SERVING after return | Join works after return | admission after return | failed Joins that took effect |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const kind of ["killed", "frozen"] as const) {
    const mine = rounds.filter((r) => r.kind === kind);
    const stat = (pick: (r: Round) => number): string => {
      const values = mine.map(pick).sort((a, b) => a - b);
      return `${values[Math.floor((values.length - 1) / 2)]} / ${values.at(-1)}`;
    };
    const codes = [...new Set(mine.map((r) => r.failCode))].join(", ");
    const effect =
      kind === "frozen" ? `${mine.reduce((n, r) => n + (r.tookEffect ?? 0), 0)} of ${mine.reduce((n, r) => n + r.failedJoins, 0)}` : "(data lost)";
    console.log(
      `| ${kind} | ${stat((r) => r.failMs)} (${codes}) | ${stat((r) => r.notServingMs)} | ${stat((r) => r.servingMs)} | ${stat((r) => r.joinMs)} | ${stat((r) => r.admitMs)} | ${effect} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
