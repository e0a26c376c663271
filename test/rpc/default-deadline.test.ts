import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { withDefaultDeadline } from "../../src/rpc/default-deadline.js";
import { registration } from "../../src/rpc/registration.js";

/**
 * A Join that waits for its signal and reports what it saw, mounted in
 * memory behind the default deadline.
 */
function harness(ms: number) {
  const seen: { reason?: unknown; timeoutMs?: number | undefined } = {};
  const fail = (): never => {
    throw new ConnectError("not here", Code.Unimplemented);
  };
  const impl: ServiceImpl<typeof QueueService> = {
    configureQueue: fail,
    getQueueStats: fail,
    join: async (_req, ctx) => {
      seen.timeoutMs = ctx.timeoutMs();
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      seen.reason = ctx.signal.reason;
      return {};
    },
    getPosition: fail,
    watchPosition: fail,
    leave: fail,
  };
  const reg = withDefaultDeadline(registration(QueueService, impl), ms);
  const transport = createRouterTransport((router) => router.service(QueueService, reg.impl as unknown as ServiceImpl<typeof QueueService>));
  return { client: createClient(QueueService, transport), seen };
}

it("a call without a deadline gets the default: its signal aborts with DEADLINE_EXCEEDED and so does the call", async () => {
  const { client, seen } = harness(50);
  await expect(client.join({ eventId: "e", userId: "u" })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  expect(seen.timeoutMs).toBeGreaterThan(0);
  expect(seen.timeoutMs).toBeLessThanOrEqual(50);
  expect(ConnectError.from(seen.reason).code).toBe(Code.DeadlineExceeded);
});

it("a call with a deadline of its own keeps it", async () => {
  const { client, seen } = harness(60_000);
  await expect(client.join({ eventId: "e", userId: "u" }, { timeoutMs: 50 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  expect(seen.timeoutMs).toBeLessThanOrEqual(50);
});

it("0 leaves calls without a deadline as they are", async () => {
  const { client, seen } = harness(0);
  const controller = new AbortController();
  const call = client.join({ eventId: "e", userId: "u" }, { signal: controller.signal });
  await expect.poll(() => "timeoutMs" in seen).toBe(true);
  expect(seen.timeoutMs).toBeUndefined();
  controller.abort();
  await expect(call).rejects.toMatchObject({ code: Code.Canceled });
});
