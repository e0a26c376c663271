import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService, Reason, TicketState, reasonOf, watchPosition, type Ticket } from "../../src/client/index.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";

/** Pulls one value at a time, so each step of the test waits for exactly one ticket. */
function stepper(tickets: AsyncGenerator<Ticket, void, undefined>) {
  return {
    async next(): Promise<Ticket> {
      const result = await tickets.next();
      if (result.done === true) throw new Error("the watch ended early");
      return result.value;
    },
    async ended(): Promise<boolean> {
      return (await tickets.next()).done === true;
    },
  };
}

describe("watchPosition across instances", () => {
  let first: RunningServer;
  let second: RunningServer;
  beforeAll(async () => {
    // Two instances of one deployment: same Redis, same keys.
    const env = { REDIS_KEY_PREFIX: `t${randomBytes(6).toString("hex")}:`, SHUTDOWN_GRACE_MS: "300" };
    [first, second] = await Promise.all([startServer(env), startServer(env)]);
  });
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it("resumes on the second instance when the first shuts down, keeping the user's place", async () => {
    const queue = second.client(QueueService);
    const eventId = uniqueId();
    await queue.configureQueue({ eventId });
    for (const userId of ["ahead", "me"]) await queue.join({ eventId, userId });
    const reconnects: { code: Code; connection: number }[] = [];
    const watch = stepper(
      watchPosition({
        eventId,
        userId: "me",
        transports: [first.transports["grpc-port/grpc"], second.transports["grpc-port/grpc"]],
        onReconnect: ({ error, connection }) => reconnects.push({ code: error.code, connection }),
      }),
    );
    const before = await watch.next();
    expect(before).toMatchObject({ position: 2, state: TicketState.WAITING });

    await first.stop();
    await queue.leave({ eventId, userId: "ahead" });
    // The first ticket from the second instance is the new place, not a repeat of the old one.
    const after = await watch.next();
    expect(after).toMatchObject({ position: 1, state: TicketState.WAITING, joinedAt: before.joinedAt });
    expect(reconnects).toEqual([{ code: Code.Unavailable, connection: 1 }]);

    await queue.leave({ eventId, userId: "me" });
    expect(await watch.next()).toMatchObject({ state: TicketState.LEFT });
    expect(await watch.ended()).toBe(true);
  });
});

describe("watchPosition", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ ADMIT_INTERVAL_MS: "20" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("ends after ADMITTED, the ticket carrying the pass", async () => {
    const eventId = uniqueId();
    const queue = server.client(QueueService);
    await queue.configureQueue({ eventId, admitRatePerSec: 1000 });
    await queue.join({ eventId, userId: "u" });
    const tickets: Ticket[] = [];
    for await (const ticket of watchPosition({ eventId, userId: "u", transports: server.transports["connect-port/connect"] })) tickets.push(ticket);
    expect(tickets.at(-1)).toMatchObject({ state: TicketState.ADMITTED });
    expect(tickets.at(-1)?.pass?.token).toMatch(/^v1\./);
  });

  it("throws an answer it cannot wait out, readable with reasonOf", async () => {
    const eventId = uniqueId();
    await server.client(QueueService).configureQueue({ eventId });
    const watch = stepper(watchPosition({ eventId, userId: "ghost", transports: [server.transports["grpc-port/grpc"]], onReconnect: () => expect.fail("no reconnect") }));
    const err = await watch.next().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect(reasonOf(err)).toBe(Reason.NOT_IN_QUEUE);
  });

  it("gives up after maxReconnects failures in a row and stops waiting on abort", async () => {
    const sameServer = () => server.transports["grpc-port/grpc"];
    const eventId = uniqueId();
    // An event nobody configured fails fast with NOT_FOUND; make it retryable to count the attempts.
    const attempts: number[] = [];
    const gaveUp = stepper(
      watchPosition({ eventId, userId: "u", transports: sameServer, retryCodes: [Code.NotFound], maxReconnects: 2, backoff: { initialMs: 1 }, onReconnect: ({ connection }) => attempts.push(connection) }),
    );
    expect(reasonOf(await gaveUp.next().catch((e: unknown) => e))).toBe(Reason.EVENT_NOT_FOUND);
    expect(attempts).toEqual([1, 2]);

    const controller = new AbortController();
    const aborted = stepper(
      watchPosition({ eventId, userId: "u", transports: sameServer, retryCodes: [Code.NotFound], backoff: { initialMs: 60_000, maxMs: 60_000 }, signal: controller.signal, onReconnect: () => controller.abort() }),
    );
    const err = await aborted.next().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Canceled);
  });
});
