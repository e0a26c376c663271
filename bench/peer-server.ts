/**
 * The peer: the least a grpc-js server can do to answer Join. One
 * hand-written handler decodes the request with protobuf-es, runs the same
 * Lua script through the same loader as the service (`QueueStore.join`), and
 * encodes a JoinResponse. No validation, call policy, request ids, logging or
 * metrics: the lower bound for the service's own overhead.
 *
 * Run as a child of the benchmark (IPC): reports `{ kind: "ready", port }`,
 * stops on SIGTERM.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import {
  type JoinRequest,
  JoinRequestSchema,
  type JoinResponse,
  JoinResponseSchema,
  type TicketState,
} from "../gen/boxoffice/v1/queue_pb.js";
import { loadConfig } from "../src/config.js";
import { QueueStore } from "../src/queue/queue-store.js";
import { redisClientOptions } from "../src/redis/redis-client.js";

async function main(): Promise<void> {
  const redisUrl = process.env["REDIS_URL"];
  if (!redisUrl) throw new Error("REDIS_URL is required");
  // The same client options as src/main.ts.
  const redis = new Redis(redisUrl, redisClientOptions(loadConfig({}).redisCommandTimeoutMs));
  await redis.connect();
  const store = new QueueStore(redis);

  const join = (call: ServerUnaryCall<JoinRequest, JoinResponse>, callback: sendUnaryData<JoinResponse>): void => {
    const { eventId, userId } = call.request;
    store.join(eventId, userId).then(
      (result) => {
        if (result.kind !== "joined" && result.kind !== "already_joined") {
          callback({ code: status.FAILED_PRECONDITION, details: result.kind });
          return;
        }
        const t = result.ticket;
        const response = create(JoinResponseSchema, {
          ticket: {
            eventId: t.eventId,
            userId: t.userId,
            state: t.state as number as TicketState,
            position: t.position,
            waitingTotal: t.waitingTotal,
            joinedAt: timestampFromMs(t.joinedAtMs),
          },
          newlyJoined: result.kind === "joined",
        });
        callback(null, response);
      },
      (err: unknown) => callback({ code: status.UNAVAILABLE, details: String(err) }),
    );
  };

  // Channelz off, as on the service's gRPC port: the comparison is about our code, not grpc-js settings.
  const server = new Server({ "grpc.enable_channelz": 0 });
  server.addService(
    {
      Join: {
        path: "/boxoffice.v1.QueueService/Join",
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: JoinRequest) => asBuffer(toBinary(JoinRequestSchema, value)),
        requestDeserialize: (bytes: Buffer) => fromBinary(JoinRequestSchema, bytes),
        responseSerialize: (value: JoinResponse) => asBuffer(toBinary(JoinResponseSchema, value)),
        responseDeserialize: (bytes: Buffer) => fromBinary(JoinResponseSchema, bytes),
      },
    },
    { Join: join },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  // The handler must be in place before the benchmark hears "ready" and may send SIGTERM.
  process.once("SIGTERM", () => {
    server.tryShutdown(() => {
      void redis.quit().finally(() => process.exit(0));
    });
  });
  process.send?.({ kind: "ready", port });
}

/** A Buffer view over protobuf-es's bytes, no copy (as the service's adapter does). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

main().catch((err: unknown) => {
  process.stderr.write(`peer: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
