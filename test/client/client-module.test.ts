import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueService, TicketState } from "../../src/client/index.js";
import { parsePassKeys, verifyPass } from "../../src/client/pass.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ PASS_KEYS: `current:${"c".repeat(32)},previous:${"p".repeat(32)}` });
});
afterAll(async () => {
  await server?.stop();
});

it("gives callers typed clients and an offline pass verifier that follows key rotation", async () => {
  const queue = createClient(QueueService, createGrpcTransport({ baseUrl: server.grpcUrl }));
  const eventId = uniqueId();
  await queue.configureQueue({ eventId });
  expect((await queue.join({ eventId, userId: "u" })).ticket?.state).toBe(TicketState.WAITING);

  // A backend that only knows the shared keys verifies a pass the service signed.
  const token = server.app.config.passKeys.sign({ eventId, userId: "u", issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 });
  const backend = parsePassKeys(`previous:${"p".repeat(32)},current:${"c".repeat(32)}`);
  if (!("keys" in backend)) throw new Error(backend.problems.join("; "));
  expect(verifyPass(token, backend.keys, { eventId, userId: "u" }).kind).toBe("valid");
  const stale = parsePassKeys(`previous:${"p".repeat(32)}`);
  if (!("keys" in stale)) throw new Error(stale.problems.join("; "));
  expect(verifyPass(token, stale.keys, { eventId, userId: "u" })).toMatchObject({ kind: "unknown_key", kid: "current" });
});
