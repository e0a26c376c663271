import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConfigureQueueRequestSchema, ConfigureQueueResponseSchema, QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createRegistry } from "@bufbuild/protobuf";
import { makeTestCerts, type TestCerts } from "../support/certs.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

const ADMIN_TOKEN = `admin-${randomBytes(16).toString("hex")}`;
const CLIENT_TOKEN = `client-${randomBytes(16).toString("hex")}`;

let certs: TestCerts;
let server: RunningServer;
beforeAll(async () => {
  certs = makeTestCerts();
  server = await startServer({
    AUTH_TOKENS: `admin:${ADMIN_TOKEN},client:${CLIENT_TOKEN}`,
    TLS_CERT: certs.serverCertPath,
    TLS_KEY: certs.serverKeyPath,
    TLS_CLIENT_CA: certs.caPath,
  });
});
afterAll(async () => {
  await server?.stop();
  certs?.remove();
});

/** A plain grpc-js client over mutual TLS, sending `token` (when given) as per-call credentials, the usual production setup. */
function grpcJsClient(token: string | undefined): grpc.Client {
  const channel = grpc.credentials.createSsl(certs.ca, certs.client.key, certs.client.cert);
  const credentials =
    token === undefined
      ? channel
      : grpc.credentials.combineChannelCredentials(
          channel,
          grpc.credentials.createFromMetadataGenerator((_params, callback) => {
            const metadata = new grpc.Metadata();
            metadata.set("authorization", `Bearer ${token}`);
            callback(null, metadata);
          }),
        );
  return new grpc.Client(`localhost:${server.grpcPort}`, credentials);
}

function configureQueue(client: grpc.Client, eventId: string): Promise<{ ok: true } | { code: number; reason: string | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/${QueueService.typeName}/ConfigureQueue`,
      (value: object) => Buffer.from(toBinary(ConfigureQueueRequestSchema, create(ConfigureQueueRequestSchema, value))),
      (bytes: Buffer) => fromBinary(ConfigureQueueResponseSchema, bytes),
      { eventId },
      (err) => {
        if (!err) return resolve({ ok: true });
        const details = err.metadata.get("grpc-status-details-bin")[0];
        const status = details === undefined ? undefined : fromBinary(StatusSchema, details as Buffer);
        const registry = createRegistry(ErrorInfoSchema);
        const info = status?.details.map((any) => anyUnpack(any, registry)).find((m) => m?.$typeName === ErrorInfoSchema.typeName);
        resolve({ code: err.code, reason: (info as { reason?: string } | undefined)?.reason });
      },
    );
  });
}

it("a grpc-js client over mutual TLS is let through with an admin token and refused without one or with a client token", async () => {
  const clients = [grpcJsClient(ADMIN_TOKEN), grpcJsClient(undefined), grpcJsClient(CLIENT_TOKEN)];
  try {
    const eventId = uniqueId();
    expect(await configureQueue(clients[0]!, eventId)).toEqual({ ok: true });
    expect(await configureQueue(clients[1]!, eventId)).toEqual({ code: grpc.status.UNAUTHENTICATED, reason: "CREDENTIALS_MISSING" });
    expect(await configureQueue(clients[2]!, eventId)).toEqual({ code: grpc.status.PERMISSION_DENIED, reason: "ROLE_REQUIRED" });
  } finally {
    for (const client of clients) client.close();
  }
});
