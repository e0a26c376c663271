import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { METHOD_ROLES } from "../../src/auth/roles.js";
import { uniqueId } from "../support/redis.js";
import { callOnce, sampleRequest, TRANSPORT_NAMES, transportsWith } from "./auth-support.js";
import { startServer, type RunningServer } from "./server.js";

/** This file's own Redis database, so DBSIZE counts nothing but this server's keys. */
const DB = 5;
const CLIENT_TOKEN = `client-${randomBytes(16).toString("hex")}`;
const ADMIN_TOKEN = `admin-${randomBytes(16).toString("hex")}`;
const UNKNOWN_TOKEN = `nobody-${randomBytes(16).toString("hex")}`;

/**
 * Every service of every generated boxoffice.v1 file, found by reading gen/:
 * a new RPC, or a new service, is in this matrix without anyone listing it.
 */
async function boxofficeServices(): Promise<DescService[]> {
  const dir = new URL("../../gen/boxoffice/v1/", import.meta.url);
  const files = readdirSync(dir).filter((name) => name.endsWith("_pb.ts"));
  const modules = await Promise.all(files.map((name) => import(new URL(name.replace(/\.ts$/, ".js"), dir).href) as Promise<Record<string, unknown>>));
  return modules.flatMap((m) => Object.values(m).filter((v): v is DescFile => (v as DescFile | undefined)?.kind === "file")).flatMap((file) => file.services);
}

const services = await boxofficeServices();
const methods = services.flatMap((service) =>
  service.methods.map((method) => ({ service, method, rpc: `${service.typeName}/${method.name}`, role: METHOD_ROLES[`${service.typeName}/${method.name}`] })),
);
const adminMethods = methods.filter((m) => m.role === "admin");

let server: RunningServer;
let transports: ReturnType<typeof byCredentials>;

function byCredentials() {
  const withHeader = (headers: Record<string, string>) => transportsWith(server.grpcUrl, server.connectUrl, headers);
  return {
    none: withHeader({}),
    unknown: withHeader({ authorization: `Bearer ${UNKNOWN_TOKEN}` }),
    malformed: withHeader({ authorization: `Basic ${Buffer.from(`u:${CLIENT_TOKEN}`).toString("base64")}` }),
    client: withHeader({ authorization: `Bearer ${CLIENT_TOKEN}` }),
    admin: withHeader({ authorization: `Bearer ${ADMIN_TOKEN}` }),
  };
}

beforeAll(async () => {
  server = await startServer({ AUTH_TOKENS: `client:${CLIENT_TOKEN},admin:${ADMIN_TOKEN}` }, { db: DB });
  transports = byCredentials();
});

afterAll(async () => {
  await server.stop();
  server.redis.disconnect();
});

it("knows the role of every boxoffice.v1 method, and some are admin", () => {
  expect(services.map((s) => s.typeName).sort()).toEqual(["boxoffice.v1.ChangeFeedService", "boxoffice.v1.QueueService", "boxoffice.v1.SeatService"]);
  expect(methods.filter((m) => m.role === undefined).map((m) => m.rpc)).toEqual([]);
  expect(adminMethods.map((m) => m.rpc).sort()).toEqual([
    "boxoffice.v1.ChangeFeedService/GetFeedStats",
    "boxoffice.v1.ChangeFeedService/ListDeadLetters",
    "boxoffice.v1.ChangeFeedService/ReplayDeadLetters",
    "boxoffice.v1.QueueService/ConfigureQueue",
    "boxoffice.v1.QueueService/GetQueueStats",
    "boxoffice.v1.SeatService/LoadSeatMap",
  ]);
});

describe.each(TRANSPORT_NAMES)("refused on %s before anything reaches Redis", (transportName) => {
  const refusals = [
    { credentials: "none", code: Code.Unauthenticated, reason: "CREDENTIALS_MISSING" },
    { credentials: "unknown", code: Code.Unauthenticated, reason: "CREDENTIALS_INVALID" },
    { credentials: "malformed", code: Code.Unauthenticated, reason: "CREDENTIALS_INVALID" },
  ] as const;
  const cases = [
    ...methods.flatMap((m) => refusals.map((r) => ({ ...m, ...r, metadata: {} }))),
    ...adminMethods.map((m) => ({ ...m, credentials: "client" as const, code: Code.PermissionDenied, reason: "ROLE_REQUIRED", metadata: { role: "admin" } })),
  ];
  it.each(cases)("$rpc with credentials $credentials: $reason", async ({ service, method, credentials, code, reason, metadata }) => {
    const before = await server.redis.dbsize();
    const outcome = await callOnce(transports[credentials][transportName], service, method, sampleRequest(method, uniqueId()));
    expect(outcome).toEqual({ ok: false, code, reason, metadata });
    expect(await server.redis.dbsize()).toBe(before);
  });
});

describe.each(TRANSPORT_NAMES)("let through on %s with the right role", (transportName) => {
  const cases = methods.flatMap((m) => (m.role === "admin" ? ["admin"] : ["client", "admin"]).map((credentials) => ({ ...m, credentials: credentials as "client" | "admin" })));
  it.each(cases)("$rpc with a $credentials token", async ({ service, method, credentials }) => {
    const outcome = await callOnce(transports[credentials][transportName], service, method, sampleRequest(method, uniqueId()));
    // Past the credential check the call meets the service: success, or a business answer such as NOT_FOUND.
    if (!outcome.ok) {
      expect(outcome.code).not.toBe(Code.Unauthenticated);
      expect(outcome.reason).not.toBe("ROLE_REQUIRED");
    }
  });
});

it("a permitted call does write to this database (so the unchanged counts above mean something)", async () => {
  const before = await server.redis.dbsize();
  const eventId = uniqueId();
  const outcome = await callOnce(transports.admin["grpc-port/grpc"], QueueService, QueueService.method.configureQueue, { eventId });
  expect(outcome).toEqual({ ok: true });
  expect(await server.redis.dbsize()).toBeGreaterThan(before);
});
