import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { CallRegistry } from "../../src/transport/call-registry.js";
import { drainInterceptor } from "../../src/transport/connect/drain-interceptor.js";
import { Probe } from "./support/probe.js";

/*
 * Over a real port a draining server has already stopped taking connections
 * and sent GOAWAY, so a new stream reaching the interceptor is a race; the
 * refusal itself is checked here, in memory.
 */
it("refuses a new stream while draining with UNAVAILABLE and ErrorInfo SHUTTING_DOWN", async () => {
  const registry = new CallRegistry();
  const [health] = new Probe().registrations();
  const transport = createRouterTransport((router) => router.service(Health, health!.impl as never), {
    router: { interceptors: [drainInterceptor(registry)] },
  });
  registry.drain();
  const stream = createClient(Health, transport).watch({ service: "forever:s" })[Symbol.asyncIterator]();
  const error = await stream.next().then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error?.code).toBe(Code.Unavailable);
  expect(error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "SHUTTING_DOWN", domain: "boxoffice.v1" });
});
