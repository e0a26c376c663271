import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueService, TicketState } from "../../src/client/index.js";
import { PassUsageError, parsePassKeys, verificationKeys, verifyPass } from "../../src/client/pass.js";
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

it("verifies with keys given in code, refuses unusable ones with PassUsageError, and offers no signing", () => {
  const token = server.app.config.passKeys.sign({ eventId: "e", userId: "u", issuedAtMs: 1_000, expiresAtMs: 2_000 });
  const keys = verificationKeys([{ kid: "current", secret: "c".repeat(32) }]);
  expect(keys.kids).toEqual(["current"]);
  expect(verifyPass(token, keys, { nowMs: 1_500 }).kind).toBe("valid");
  expect(verifyPass(token, { current: "c".repeat(32) }, { nowMs: 2_000 }).kind).toBe("expired");
  expect(() => verificationKeys([{ kid: "short", secret: "too short" }])).toThrow(PassUsageError);
  expect(() => verifyPass(token, { current: "too short" })).toThrow(PassUsageError);
  // The object is the service's keyring; only the callers' types leave signing out.
  // @ts-expect-error signing is the service's, not part of the callers' API
  expect(keys.sign).toBeTypeOf("function");
});
