import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { createLogger } from "../../src/logger.js";
import { uniqueId } from "../support/redis.js";
import { TRANSPORT_NAMES, transportsWith } from "./auth-support.js";
import { startServer, type RunningServer } from "./server.js";

const CLIENT_TOKEN = `client-${randomBytes(16).toString("hex")}`;
const ADMIN_TOKEN = `admin-${randomBytes(16).toString("hex")}`;
const UNKNOWN_TOKEN = `unknown-${randomBytes(16).toString("hex")}`;
const PASS = `v1.${randomBytes(24).toString("base64url")}.${randomBytes(32).toString("base64url")}`;

let output = "";
let server: RunningServer;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString("utf8");
      done();
    },
  });
  // The production logger (its redaction), at its most talkative.
  const logger = createLogger("trace", sink);
  server = await startServer({ AUTH_TOKENS: `client:${CLIENT_TOKEN},admin:${ADMIN_TOKEN}`, LOG_CALLS: "true" }, { logger });
});

afterAll(() => server.stop());

function lines(): Array<Record<string, unknown>> {
  return output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it("writes one completion line per call and never a token or a pass", async () => {
  const eventId = uniqueId();
  const before = lines().filter((l) => l["msg"] === "rpc completed").length;
  const client = (token: string, name: (typeof TRANSPORT_NAMES)[number]) =>
    transportsWith(server.grpcUrl, server.connectUrl, { authorization: `Bearer ${token}`, "x-request-id": `logs-${name.replace("/", "_")}` })[name];
  for (const name of TRANSPORT_NAMES) {
    await createClient(QueueService, client(ADMIN_TOKEN, name)).configureQueue({ eventId });
    await createClient(SeatService, client(ADMIN_TOKEN, name)).loadSeatMap({ eventId, requirePass: true, tiers: [{ tierId: "floor", capacity: 5 }] });
    const hold = createClient(SeatService, client(CLIENT_TOKEN, name)).holdSeats({
      eventId,
      userId: "u",
      pass: PASS,
      selection: { case: "generalAdmission", value: { tierId: "floor", quantity: 1 } },
    });
    await expect(hold).rejects.toSatisfy((err) => ConnectError.from(err).code === Code.PermissionDenied);
    const stranger = createClient(QueueService, client(UNKNOWN_TOKEN, name)).join({ eventId, userId: "u" });
    await expect(stranger).rejects.toSatisfy((err) => ConnectError.from(err).code === Code.Unauthenticated);
  }
  // A careless log call with the usual names is still redacted.
  createLogger("info", new Writable({ write: (chunk: Buffer, _e, done) => ((output += chunk.toString()), done()) })).info(
    { authorization: `Bearer ${ADMIN_TOKEN}`, request: { pass: PASS, headers: { authorization: CLIENT_TOKEN } }, token: UNKNOWN_TOKEN },
    "careless",
  );

  const completed = lines().filter((l) => l["msg"] === "rpc completed");
  expect(completed.length - before).toBe(4 * TRANSPORT_NAMES.length);
  expect(completed.slice(before, before + 4)).toEqual([
    expect.objectContaining({ rpcService: "boxoffice.v1.QueueService", rpcMethod: "ConfigureQueue", code: "OK", eventId, requestId: "logs-grpc-port_grpc", level: 30 }),
    expect.objectContaining({ rpcService: "boxoffice.v1.SeatService", rpcMethod: "LoadSeatMap", code: "OK", eventId }),
    expect.objectContaining({ rpcService: "boxoffice.v1.SeatService", rpcMethod: "HoldSeats", code: "PERMISSION_DENIED", eventId }),
    expect.objectContaining({ rpcService: "boxoffice.v1.QueueService", rpcMethod: "Join", code: "UNAUTHENTICATED", eventId }),
  ]);
  for (const line of completed) {
    expect(line["durationMs"]).toBeTypeOf("number");
  }
  expect(lines().find((l) => l["msg"] === "careless")).toMatchObject({
    authorization: "[redacted]",
    request: { pass: "[redacted]", headers: { authorization: "[redacted]" } },
    token: "[redacted]",
  });
  for (const secret of [CLIENT_TOKEN, ADMIN_TOKEN, UNKNOWN_TOKEN, PASS]) {
    expect(output).not.toContain(secret);
  }
});
