import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { types } from "node:util";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { QueueService, TicketState } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { withBackendGuard, type BackendAvailability } from "../../src/rpc/backend-guard.js";
import { withCallPolicy } from "../../src/rpc/policy.js";
import { registration } from "../../src/rpc/registration.js";
import { createRequestValidator } from "../../src/rpc/validator.js";
import { createGrpcServer } from "../../src/transport/grpc-server.js";

/** An availability the test switches by hand (what a `RedisMonitor` reports). */
class Switch implements BackendAvailability {
  available = true;
  readonly #listeners = new Set<(available: boolean) => void>();
  subscribe(listener: (available: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(available: boolean): void {
    this.available = available;
    for (const listener of [...this.#listeners]) listener(available);
  }
  get listeners(): number {
    return this.#listeners.size;
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function harness() {
  const backend = new Switch();
  const seen = {
    joins: 0,
    streams: 0,
    finished: 0,
    reason: undefined as unknown,
    /** The context the stream implementation was given. */
    ctx: undefined as HandlerContext | undefined,
    /** Resolves when the stream implementation's `finally` has run. */
    cleanedUp: deferred<void>(),
  };
  const fail = (): never => {
    throw new ConnectError("not here", Code.Unimplemented);
  };
  const impl: ServiceImpl<typeof QueueService> = {
    configureQueue: fail,
    getQueueStats: fail,
    getPosition: fail,
    leave: fail,
    join() {
      seen.joins++;
      return { newlyJoined: true };
    },
    async *watchPosition(req, ctx: HandlerContext) {
      seen.streams++;
      seen.ctx = ctx;
      try {
        ctx.responseHeader.set("x-watched", req.userId);
        yield { ticket: { eventId: req.eventId, userId: req.userId, state: TicketState.WAITING, position: 1 } };
        // Waits as every stream does: until its signal aborts.
        await new Promise((_, reject) => {
          if (ctx.signal.aborted) reject(ctx.signal.reason);
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        });
      } finally {
        seen.reason = ctx.signal.reason;
        seen.finished++;
        seen.cleanedUp.resolve();
      }
    },
  };
  const guarded = withBackendGuard(registration(QueueService, impl), backend);
  const wrapped = withCallPolicy(guarded, { logger: pino({ level: "silent" }), validator: createRequestValidator() });
  const transport = createRouterTransport((router) => router.service(QueueService, wrapped.impl as unknown as ServiceImpl<typeof QueueService>));
  return { client: createClient(QueueService, transport), backend, seen, wrapped };
}

async function failure(pending: Promise<unknown>): Promise<{ code: string; reason: string | undefined; outcome: string | undefined }> {
  const err = await pending.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => ConnectError.from(e),
  );
  const info = err.findDetails(ErrorInfoSchema)[0];
  return { code: Code[err.code], reason: info?.reason, outcome: info?.metadata["outcome"] };
}

const UNAVAILABLE = { code: Code[Code.Unavailable], reason: "BACKEND_UNAVAILABLE", outcome: "UNKNOWN" };
/** Refused before the implementation ran: known not to have taken effect. */
const REFUSED = { ...UNAVAILABLE, outcome: "NOT_APPLIED" };
const request = { eventId: "e", userId: "u" };

describe("withBackendGuard", () => {
  it("lets calls through while the backend is available", async () => {
    const h = harness();
    expect(await h.client.join(request)).toMatchObject({ newlyJoined: true });
    expect(h.seen.joins).toBe(1);
  });

  it("refuses calls and new streams at once while the backend is unavailable, without running them", async () => {
    const h = harness();
    h.backend.set(false);
    expect(await failure(h.client.join(request))).toEqual(REFUSED);
    expect(await failure(h.client.watchPosition(request)[Symbol.asyncIterator]().next())).toEqual(REFUSED);
    expect(h.seen).toMatchObject({ joins: 0, streams: 0 });
    h.backend.set(true);
    expect(await h.client.join(request)).toMatchObject({ newlyJoined: true });
  });

  it("ends an open stream with UNAVAILABLE when the backend goes, and aborts the implementation's signal with it", async () => {
    const h = harness();
    const headers = deferred<Headers>();
    const stream = h.client.watchPosition(request, { onHeader: headers.resolve })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.ticket?.position).toBe(1);
    expect((await headers.promise).get("x-watched")).toBe("u");
    h.backend.set(false);
    expect(await failure(stream.next())).toEqual(UNAVAILABLE);
    await h.seen.cleanedUp.promise;
    expect(ConnectError.from(h.seen.reason).code).toBe(Code.Unavailable);
    expect(h.backend.listeners).toBe(0);
  });

  it("still ends a stream with the call's own reason when the client cancels", async () => {
    const h = harness();
    const controller = new AbortController();
    const stream = h.client.watchPosition(request, { signal: controller.signal })[Symbol.asyncIterator]();
    await stream.next();
    controller.abort();
    expect((await failure(stream.next())).code).toBe(Code[Code.Canceled]);
    await h.seen.cleanedUp.promise;
    expect(h.seen.finished).toBe(1);
    expect(h.backend.listeners).toBe(0);
  });

  it("on the gRPC port, aborts the call's own signal: the implementation gets the call's context itself", async () => {
    const h = harness();
    const server = createGrpcServer([h.wrapped]);
    try {
      const port = await server.listen(0, "127.0.0.1");
      const client = createClient(QueueService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      const stream = client.watchPosition(request)[Symbol.asyncIterator]();
      expect((await stream.next()).value?.ticket?.position).toBe(1);
      // No second signal, no proxied context: the call's own.
      expect(types.isProxy(h.seen.ctx)).toBe(false);
      h.backend.set(false);
      expect(await failure(stream.next())).toEqual(UNAVAILABLE);
      await h.seen.cleanedUp.promise;
      expect(ConnectError.from(h.seen.reason).code).toBe(Code.Unavailable);
      expect(h.backend.listeners).toBe(0);
    } finally {
      await server.shutdown(1_000);
    }
  });

  it("elsewhere, gives the implementation a signal of its own that follows the call's", async () => {
    const h = harness();
    const stream = h.client.watchPosition(request)[Symbol.asyncIterator]();
    await stream.next();
    expect(types.isProxy(h.seen.ctx)).toBe(true);
    h.backend.set(false);
    expect(await failure(stream.next())).toEqual(UNAVAILABLE);
    await h.seen.cleanedUp.promise;
    expect(h.backend.listeners).toBe(0);
  });
});
