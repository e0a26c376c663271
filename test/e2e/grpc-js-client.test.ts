import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  JoinRequestSchema,
  JoinResponseSchema,
  QueueService,
  WatchPositionRequestSchema,
  WatchPositionResponseSchema,
  LeaveRequestSchema,
  LeaveResponseSchema,
  TicketState,
  type WatchPositionResponse,
} from "../../gen/boxoffice/v1/queue_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createRegistry } from "@bufbuild/protobuf";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
let client: grpc.Client;
beforeAll(async () => {
  server = await startServer();
  client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

const path = (method: string): string => `/${QueueService.typeName}/${method}`;
const serialize = <D extends DescMessage>(schema: D) => (value: MessageInitShape<D>): Buffer => Buffer.from(toBinary(schema, create(schema, value)));
const deserialize = <D extends DescMessage>(schema: D) => (bytes: Buffer): MessageShape<D> => fromBinary(schema, bytes);

function unary<I extends DescMessage, O extends DescMessage>(method: string, input: I, output: O, request: MessageInitShape<I>): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path(method), serialize(input), deserialize(output), request, (err, value) => {
      if (err) reject(err);
      else resolve(value as MessageShape<O>);
    });
  });
}

it("joins, watches and leaves with a plain @grpc/grpc-js client", async () => {
  const eventId = uniqueId();
  await server.client(QueueService).configureQueue({ eventId });
  const joined = await unary("Join", JoinRequestSchema, JoinResponseSchema, { eventId, userId: "g1" });
  expect(joined.ticket).toMatchObject({ position: 1, state: TicketState.WAITING });

  const call = client.makeServerStreamRequest(
    path("WatchPosition"),
    serialize(WatchPositionRequestSchema),
    deserialize(WatchPositionResponseSchema),
    { eventId, userId: "g1" },
  );
  const received: WatchPositionResponse[] = [];
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  const firstMessage = new Promise<void>((resolve) => call.once("data", () => resolve()));
  call.on("data", (message: WatchPositionResponse) => received.push(message));
  await firstMessage;
  await unary("Leave", LeaveRequestSchema, LeaveResponseSchema, { eventId, userId: "g1" });
  const status = await ended;
  expect(status.code).toBe(grpc.status.OK);
  expect(received.map((m) => m.ticket?.state)).toEqual([TicketState.WAITING, TicketState.LEFT]);
});

it("carries ErrorInfo in grpc-status-details-bin", async () => {
  const err = await unary("Join", JoinRequestSchema, JoinResponseSchema, { eventId: uniqueId(), userId: "u" }).then(
    () => undefined,
    (e: grpc.ServiceError) => e,
  );
  expect(err?.code).toBe(grpc.status.NOT_FOUND);
  const raw = err?.metadata.get("grpc-status-details-bin")[0];
  expect(raw).toBeInstanceOf(Buffer);
  const status = fromBinary(StatusSchema, raw as Buffer);
  expect(status.code).toBe(grpc.status.NOT_FOUND);
  const info = anyUnpack(status.details[0]!, createRegistry(ErrorInfoSchema));
  expect(info).toMatchObject({ reason: "EVENT_NOT_FOUND", domain: "boxoffice.v1" });
});
