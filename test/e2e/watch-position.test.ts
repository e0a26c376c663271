import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

function pull(stream: AsyncIterable<WatchPositionResponse>) {
  const it = stream[Symbol.asyncIterator]();
  return {
    async next(): Promise<WatchPositionResponse> {
      const r = await it.next();
      if (r.done) throw new Error("stream ended early");
      return r.value;
    },
    async done(): Promise<boolean> {
      return (await it.next()).done === true;
    },
  };
}

describe.each(["grpc-port/grpc", "connect-port/grpc", "connect-port/connect"] as const)("WatchPosition over %s", (name) => {
  it("streams the ticket, an update when someone ahead leaves, and ends after the user leaves", async () => {
    const client = server.client(QueueService, server.transports[name]);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    for (const userId of ["a", "b", "c"]) await client.join({ eventId, userId });
    const watch = pull(client.watchPosition({ eventId, userId: "c" }));
    expect((await watch.next()).ticket).toMatchObject({ position: 3, state: TicketState.WAITING });
    await client.leave({ eventId, userId: "a" });
    expect((await watch.next()).ticket).toMatchObject({ position: 2, waitingTotal: 2 });
    await client.leave({ eventId, userId: "c" });
    expect((await watch.next()).ticket).toMatchObject({ position: 0, state: TicketState.LEFT });
    expect(await watch.done()).toBe(true);
  });

  it("fails with NOT_FOUND for a user who never joined", async () => {
    const client = server.client(QueueService, server.transports[name]);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    const watch = pull(client.watchPosition({ eventId, userId: "ghost" }));
    const err = await watch.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.NotFound);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("NOT_IN_QUEUE");
  });
});

describe("WatchPosition lifecycle", () => {
  it("stops the event's server loop when the client cancels", async () => {
    const client = server.client(QueueService);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    await client.join({ eventId, userId: "u" });
    const controller = new AbortController();
    const watch = pull(client.watchPosition({ eventId, userId: "u" }, { signal: controller.signal }));
    await watch.next();
    expect(server.app.hub.eventsWatched).toBeGreaterThanOrEqual(1);
    controller.abort();
    await expect(watch.next()).rejects.toMatchObject({ code: Code.Canceled });
    await server.app.hub.stopped(eventId);
    // A watch on another event may still run in a parallel test; this one must be gone.
    const again = pull(client.watchPosition({ eventId, userId: "u" }));
    expect((await again.next()).ticket?.position).toBe(1);
  });

  it("honours the client's deadline", async () => {
    const client = server.client(QueueService);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    await client.join({ eventId, userId: "u" });
    const watch = pull(client.watchPosition({ eventId, userId: "u" }, { timeoutMs: 300 }));
    await watch.next();
    await expect(watch.next()).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    await server.app.hub.stopped(eventId);
  });

  it("ends open streams with UNAVAILABLE and ErrorInfo SHUTTING_DOWN when the server shuts down, on both ports", async () => {
    const own = await startServer();
    const eventId = uniqueId();
    const setup = own.client(QueueService);
    await setup.configureQueue({ eventId });
    await setup.join({ eventId, userId: "u" });
    const watches = (["grpc-port/grpc", "connect-port/grpc", "connect-port/connect", "connect-port/grpc-web"] as const).map((name) =>
      pull(own.client(QueueService, own.transports[name]).watchPosition({ eventId, userId: "u" })),
    );
    for (const watch of watches) await watch.next();
    const stopping = own.stop();
    for (const watch of watches) {
      const error = await watch.next().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "SHUTTING_DOWN", domain: "boxoffice.v1" });
    }
    await stopping;
    await own.app.hub.stopped(eventId);
    expect(own.app.hub.eventsWatched).toBe(0);
  });
});
