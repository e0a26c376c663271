import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { withRequestId } from "./hold-seats.js";
import { retryServiceConfig } from "./retry-policy.js";

/**
 * Boxoffice for `@grpc/grpc-js` callers: clients built from the same
 * protobuf-es descriptors the connect-es clients use, so requests and
 * responses are the typed generated messages (encoded with protobuf-es
 * `toBinary` / `fromBinary`, no protobufjs, no .proto loading at run time).
 * Errors stay grpc-js `ServiceError`s; `reasonOf` and `errorDetailsOf`
 * decode their `grpc-status-details-bin` into `ErrorInfo` and `BadRequest`.
 */
export { decodeStatusDetails, errorDetailsOf, reasonOf, type ErrorDetails } from "./errors.js";
export { retryServiceConfig } from "./retry-policy.js";
export { newRequestId } from "./hold-seats.js";

/** Per-call options; the metadata is where credentials go. */
export interface GrpcJsCallOptions {
  readonly metadata?: grpc.Metadata;
  /** Absolute `Date`, or epoch milliseconds. */
  readonly deadline?: Date | number;
  /** Cancels the call (the promise rejects, or the stream throws, with CANCELLED). */
  readonly signal?: AbortSignal;
}

/**
 * A service's unary methods as promises and its server streams as async
 * iterables, named as in connect-es (`join`, `watchPosition`). `close()`
 * closes the channel.
 */
export type GrpcJsClient<S extends DescService> = {
  readonly [P in keyof S["method"]]: S["method"][P] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => Promise<MessageShape<O>>
    : S["method"][P] extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => AsyncIterable<MessageShape<O>>
      : never;
} & { close(): void; readonly channel: grpc.Client };

/**
 * A grpc-js client for one service at `address` (`host:port`, no scheme).
 * Unless `options` sets `grpc.service_config`, the channel retries the
 * methods that are safe to repeat on UNAVAILABLE (`retryServiceConfig()`),
 * HoldSeats included: its `holdSeats` fills a fresh `request_id` into a
 * request without one, so every attempt of one call carries the same key.
 */
export function createGrpcJsClient<S extends DescService>(
  service: S,
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ClientOptions = {},
): GrpcJsClient<S> {
  const channel = new grpc.Client(address, credentials, {
    "grpc.service_config": JSON.stringify(retryServiceConfig({ requestIdsFilled: true })),
    ...options,
  });
  const client: Record<string, unknown> = {
    close: () => channel.close(),
    channel,
  };
  for (const method of service.methods) {
    if (method.methodKind === "unary") client[method.localName] = unaryCall(channel, method);
    else if (method.methodKind === "server_streaming") client[method.localName] = serverStreamCall(channel, method);
  }
  return client as GrpcJsClient<S>;
}

/**
 * The grpc-js `ServiceDefinition` of a service, for `grpc.makeGenericClientConstructor`
 * (callers who want grpc-js's own callback API) or `Server.addService`.
 */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<MessageInitShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: pathOf(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
      originalName: method.localName,
    };
  }
  return definition;
}

type AnyRequest = MessageInitShape<DescMessage>;
type UnaryFn = (request: AnyRequest, options?: GrpcJsCallOptions) => Promise<unknown>;
type StreamFn = (request: AnyRequest, options?: GrpcJsCallOptions) => AsyncIterable<unknown>;

/** What a request becomes before it is sent: HoldSeats gets a request id if it has none. */
function preparer(method: DescMethod): (request: AnyRequest) => AnyRequest {
  if (method === SeatService.method.holdSeats) return (request) => withRequestId(request as MessageInitShape<typeof SeatService.method.holdSeats.input>);
  return (request) => request;
}

function unaryCall(channel: grpc.Client, method: DescMethod): UnaryFn {
  const path = pathOf(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  const prepare = preparer(method);
  return (request, options = {}) =>
    new Promise((resolve, reject) => {
      const call = channel.makeUnaryRequest(path, serialize, deserialize, prepare(request), options.metadata ?? new grpc.Metadata(), callOptions(options), (err, value) => {
        options.signal?.removeEventListener("abort", cancel);
        if (err) reject(err);
        else resolve(value);
      });
      const cancel = () => call.cancel();
      if (options.signal?.aborted === true) cancel();
      else options.signal?.addEventListener("abort", cancel, { once: true });
    });
}

function serverStreamCall(channel: grpc.Client, method: DescMethod): StreamFn {
  const path = pathOf(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  return async function* (request, options = {}) {
    const call = channel.makeServerStreamRequest(path, serialize, deserialize, request, options.metadata ?? new grpc.Metadata(), callOptions(options));
    const cancel = () => call.cancel();
    if (options.signal?.aborted === true) cancel();
    else options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const message of call) yield message;
    } finally {
      options.signal?.removeEventListener("abort", cancel);
      // Leaving early (break, or an error in the caller's loop) must not leave the stream open.
      call.cancel();
    }
  };
}

function callOptions(options: GrpcJsCallOptions): grpc.CallOptions {
  return options.deadline === undefined ? {} : { deadline: options.deadline };
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializer<D extends DescMessage>(schema: D): (value: MessageInitShape<D>) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, isMessage(value, schema) ? value : create(schema, value));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}
