import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import type { TransportServer } from "../../../src/transport/transport-server.js";
import { Probe, ServingStatus, Tally, requestQueue } from "./probe.js";

export interface ContractOptions {
  /** Builds the server under test from the probe's registrations. */
  server(probe: Probe): TransportServer;
  /** A client transport for `baseUrl`. */
  transport(baseUrl: string): Transport;
  /** The reason the implementation's signal carries when the client cancels; undefined: any reason. */
  cancelReason: Code | undefined;
  /** Whether the client transport can stream requests (HTTP/2). */
  requestStreaming: boolean;
  /** Request headers that carry a deadline in this protocol, for a deadline the client does not enforce itself. */
  deadlineHeader(ms: number): Record<string, string>;
}

/**
 * Behaviour every (server, client protocol) pair must show, run against a
 * real server on an ephemeral port with a real connect client.
 */
export function transportContract(name: string, options: ContractOptions): void {
  describe(name, () => {
    let probe: Probe;
    let server: TransportServer;
    let health: ReturnType<typeof createClient<typeof Health>>;
    let baseUrl: string;

    beforeEach(async () => {
      probe = new Probe();
      server = options.server(probe);
      const port = await server.listen(0, "127.0.0.1");
      baseUrl = `http://127.0.0.1:${port}`;
      health = createClient(Health, options.transport(baseUrl));
    });

    afterEach(async () => {
      await server.shutdown(1_000);
    });

    it("answers a unary call", async () => {
      const res = await health.check({ service: "ok:u1" });
      expect(res.status).toBe(ServingStatus.SERVING);
      const ctx = await probe.trace("u1").started.promise;
      expect(ctx.method.name).toBe("Check");
      expect(ctx.service.typeName).toBe("grpc.health.v1.Health");
      expect(ctx.url).toBe(`${baseUrl}/grpc.health.v1.Health/Check`);
      expect(ctx.requestMethod).toBe("POST");
    });

    it("shows request headers to the implementation and sends its response headers and trailers", async () => {
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      await health.check(
        { service: "headers:h1" },
        { headers: { "x-probe": "abc" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
      );
      const ctx = await probe.trace("h1").started.promise;
      expect(ctx.requestHeader.get("x-probe")).toBe("abc");
      expect(header?.get("x-echo")).toBe("abc");
      expect(trailer?.get("x-trailer")).toBe("done");
    });

    it("sends a ConnectError's code, message, metadata and ErrorInfo detail", async () => {
      const err = await health.check({ service: "error:e1" }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toBe("sold out");
      expect(err?.metadata.get("x-error-meta")).toBe("present");
      const [info] = err?.findDetails(ErrorInfoSchema) ?? [];
      expect(info?.reason).toBe("SOLD_OUT");
      expect(info?.domain).toBe("boxoffice.v1");
      expect(info?.metadata).toEqual({ eventId: "e-1" });
    });

    it("turns an error that is not a ConnectError into INTERNAL without leaking its message", async () => {
      const err = await health.check({ service: "bug:b1" }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.Internal);
      expect(err?.rawMessage).not.toContain("secret");
    });

    it("streams every message of a server stream, in order", async () => {
      const statuses: ServingStatus[] = [];
      for await (const res of health.watch({ service: "count:5" })) statuses.push(res.status);
      expect(statuses).toEqual([
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
        ServingStatus.SERVING,
      ]);
    });

    it("streams more messages than the write buffer holds (backpressure)", async () => {
      let count = 0;
      for await (const res of health.watch({ service: "count:3000" })) {
        expect(res.status).toBe(count % 2 === 0 ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        count++;
      }
      expect(count).toBe(3000);
    });

    it("aborts the implementation's signal when the client cancels a unary call", async () => {
      const abort = new AbortController();
      const call = health.check({ service: "hang:c1" }, { signal: abort.signal });
      await probe.trace("c1").started.promise;
      abort.abort();
      await expect(call).rejects.toMatchObject({ code: Code.Canceled });
      const reason = await probe.trace("c1").ended.promise;
      expect(reason).toBeDefined();
      if (options.cancelReason !== undefined) expect(ConnectError.from(reason).code).toBe(options.cancelReason);
    });

    it("aborts the implementation's signal when the client cancels a stream", async () => {
      const abort = new AbortController();
      const stream = health.watch({ service: "forever:c2" }, { signal: abort.signal })[Symbol.asyncIterator]();
      const first = await stream.next();
      expect(first.value?.status).toBe(ServingStatus.SERVING);
      abort.abort();
      await expect(stream.next()).rejects.toMatchObject({ code: Code.Canceled });
      const reason = await probe.trace("c2").ended.promise;
      expect(reason).toBeDefined();
      if (options.cancelReason !== undefined) expect(ConnectError.from(reason).code).toBe(options.cancelReason);
    });

    it("gives the implementation the remaining time and aborts its signal when the client's deadline passes", async () => {
      const call = health.check({ service: "hang:d1" }, { timeoutMs: 200 });
      const ctx = await probe.trace("d1").started.promise;
      expect(ctx.timeoutMs()).toBeGreaterThan(0);
      expect(ctx.timeoutMs()).toBeLessThanOrEqual(200);
      await expect(call).rejects.toMatchObject({ code: Code.DeadlineExceeded });
      // Client and server race to act on the deadline; either way the signal aborts.
      expect(await probe.trace("d1").ended.promise).toBeDefined();
    });

    it("aborts the implementation's signal with DEADLINE_EXCEEDED when the server enforces the deadline", async () => {
      // The deadline travels in the protocol header only, so the server, not the client, ends the call.
      const call = health.check({ service: "hang:d2" }, { headers: options.deadlineHeader(100) });
      await expect(call).rejects.toMatchObject({ code: Code.DeadlineExceeded });
      const reason = await probe.trace("d2").ended.promise;
      expect(ConnectError.from(reason).code).toBe(Code.DeadlineExceeded);
    });

    // HTTP/1.1 clients cannot stream requests; those pairs do not register these tests at all.
    if (!options.requestStreaming) return;

    it("answers each bidi request as it arrives", async () => {
      const reflection = createClient(ServerReflection, options.transport(baseUrl));
      const requests = requestQueue<{ host: string; messageRequest: { case: "listServices"; value: string } }>();
      const responses = reflection.serverReflectionInfo(requests.iterable)[Symbol.asyncIterator]();
      const seen: string[] = [];
      for (const host of ["a", "b", "c"]) {
        // The next request is only sent once the previous answer arrived.
        requests.push({ host, messageRequest: { case: "listServices", value: "" } });
        const res = await responses.next();
        seen.push(res.value?.validHost ?? "(done)");
        expect(res.value?.originalRequest?.host).toBe(host);
      }
      requests.end();
      expect((await responses.next()).done).toBe(true);
      expect(seen).toEqual(["echo:a", "echo:b", "echo:c"]);
    });

    it("reads a client stream to its end", async () => {
      const tally = createClient(Tally, options.transport(baseUrl));
      async function* words() {
        yield { value: "one" };
        yield { value: "two" };
        yield { value: "three" };
      }
      const res = await tally.join(words());
      expect(res.value).toBe("one,two,three");
    });
  });
}
