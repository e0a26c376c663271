import { create, fromBinary, toBinary, type DescMethod, type Message } from "@bufbuild/protobuf";
import { EncodedOutput } from "../rpc/encoded-output.js";
import {
  Server,
  ServerCredentials,
  type ChannelOptions,
  type MethodDefinition,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ConnectError } from "@connectrpc/connect";
import { observeRefusal, type RpcMethodObserver, type RpcObserver } from "../observe/rpc-observer.js";
import type { ServiceRegistration } from "../rpc/registration.js";
import { CallRegistry } from "./call-registry.js";
import { badInputInterceptor, decodeRequest } from "./grpc/bad-input.js";
import type { MethodRuntime } from "./grpc/call-context.js";
import { OutputScratch } from "./grpc/output-scratch.js";
import {
  bidiStreamingHandler,
  clientStreamingHandler,
  serverStreamingHandler,
  unaryHandler,
  type AnyBiDiStreamingImpl,
  type AnyClientStreamingImpl,
  type AnyServerStreamingImpl,
  type AnyUnaryImpl,
  type Output,
} from "./grpc/handlers.js";
import { hostPort, type TransportServer } from "./transport-server.js";

export interface GrpcServerOptions {
  logger?: Logger;
  /** Server-initiated HTTP/2 PING interval, keeping hours-long streams alive through idle-timeout proxies. Default 30 s. */
  keepaliveTimeMs?: number;
  /** A connection whose PING is not acknowledged within this time is dropped. Default 10 s. */
  keepaliveTimeoutMs?: number;
  /** Close connections without calls for this long (GOAWAY). Default: never. */
  maxConnectionIdleMs?: number;
  /** Recycle connections after this age so clients rebalance across instances. Default: never. */
  maxConnectionAgeMs?: number;
  /** Grace for calls on a connection recycled by `maxConnectionAgeMs`. Default: unlimited. */
  maxConnectionAgeGraceMs?: number;
  /** Largest accepted request message; larger ones are RESOURCE_EXHAUSTED. Default 4 MiB (grpc-js). */
  maxReceiveMessageBytes?: number;
  /** Largest response message; a larger one fails its call RESOURCE_EXHAUSTED. Default: unlimited (grpc-js). */
  maxSendMessageBytes?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. Default: unlimited. */
  maxConcurrentStreams?: number;
  /** TLS / mTLS credentials. Default: insecure (plaintext h2c). */
  credentials?: ServerCredentials;
  /**
   * Sees the calls this port refuses before any handler runs (undecodable
   * requests, streams opened while draining); the calls that reach a handler
   * are observed by the call policy.
   */
  observer?: RpcObserver;
}

const defaultKeepaliveTimeMs = 30_000;
const defaultKeepaliveTimeoutMs = 10_000;

/**
 * Serves the registrations with `@grpc/grpc-js`, the fast path for internal
 * callers and grpcurl: one handler per method is built here, from the
 * protobuf-es descriptors, and reused by every call.
 *
 * The server does not listen until `listen()`; see `TransportServer` for the
 * shutdown contract.
 */
export function createGrpcServer(
  registrations: readonly ServiceRegistration[],
  options: GrpcServerOptions = {},
): TransportServer {
  const logger = options.logger;
  const registry = new CallRegistry();
  const observers = new Map<string, RpcMethodObserver | undefined>();
  const refused = options.observer && ((path: string, error: ConnectError) => observeRefusal(observers.get(path), error));
  const server = new Server({ ...channelOptions(options), interceptors: [badInputInterceptor(refused)] });
  for (const registration of registrations) {
    const { definition, implementation } = buildService(registration, registry, logger, options.observer, observers);
    server.addService(definition, implementation);
  }

  let closing: Promise<void> | undefined;
  return {
    listen(port, host = "0.0.0.0") {
      const credentials = options.credentials ?? ServerCredentials.createInsecure();
      return new Promise((resolve, reject) => {
        server.bindAsync(hostPort(host, port), credentials, (err, boundPort) => {
          if (err) reject(err);
          else resolve(boundPort);
        });
      });
    },
    shutdown(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        logger?.info({ graceMs }, "grpc server draining");
        registry.drain();
        const timer = setTimeout(() => {
          logger?.warn({ graceMs }, "grpc server grace period over, cancelling remaining calls");
          registry.force();
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}

/**
 * Options that grpc-js's server reads. (`grpc.keepalive_permit_without_calls`
 * and `grpc.http2.min_ping_interval_without_data_ms` are client-side or
 * C-core settings the grpc-js server ignores: it pings whether or not calls
 * are open, and Node answers client PINGs without rate limiting them.)
 */
function channelOptions(options: GrpcServerOptions): ChannelOptions {
  const channel: ChannelOptions = {
    "grpc.keepalive_time_ms": options.keepaliveTimeMs ?? defaultKeepaliveTimeMs,
    "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs ?? defaultKeepaliveTimeoutMs,
    // Channelz bookkeeping costs on every call and nothing here reads it.
    "grpc.enable_channelz": 0,
  };
  if (options.maxConnectionIdleMs !== undefined) channel["grpc.max_connection_idle_ms"] = options.maxConnectionIdleMs;
  if (options.maxConnectionAgeMs !== undefined) channel["grpc.max_connection_age_ms"] = options.maxConnectionAgeMs;
  if (options.maxConnectionAgeGraceMs !== undefined) {
    channel["grpc.max_connection_age_grace_ms"] = options.maxConnectionAgeGraceMs;
  }
  if (options.maxReceiveMessageBytes !== undefined) {
    channel["grpc.max_receive_message_length"] = options.maxReceiveMessageBytes;
  }
  if (options.maxSendMessageBytes !== undefined) channel["grpc.max_send_message_length"] = options.maxSendMessageBytes;
  if (options.maxConcurrentStreams !== undefined) channel["grpc.max_concurrent_streams"] = options.maxConcurrentStreams;
  return channel;
}

function buildService(
  registration: ServiceRegistration,
  registry: CallRegistry,
  logger: Logger | undefined,
  observer: RpcObserver | undefined,
  observers: Map<string, RpcMethodObserver | undefined>,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const { service, impl } = registration;
  const definition: Record<string, MethodDefinition<Message, Output>> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const fn: unknown = (impl as Record<string, unknown>)[method.localName];
    if (typeof fn !== "function") {
      throw new Error(`${service.typeName}.${method.name} has no implementation`);
    }
    const bound = (fn as (...args: unknown[]) => unknown).bind(impl);
    const path = `/${service.typeName}/${method.name}`;
    const rt: MethodRuntime = {
      service,
      method,
      path,
      streaming: method.methodKind !== "unary",
      registry,
      logger,
      observer: observer?.forMethod({ service: service.typeName, method: method.name, kind: method.methodKind, transport: "grpc" }),
    };
    observers.set(path, rt.observer);
    definition[method.name] = methodDefinition(rt.path, method);
    implementation[method.name] = handlerFor(rt, bound);
  }
  return { definition, implementation };
}

function handlerFor(rt: MethodRuntime, impl: (...args: unknown[]) => unknown): UntypedHandleCall {
  switch (rt.method.methodKind) {
    case "unary":
      return unaryHandler(rt, impl as AnyUnaryImpl);
    case "server_streaming":
      return serverStreamingHandler(rt, impl as AnyServerStreamingImpl);
    case "client_streaming":
      return clientStreamingHandler(rt, impl as AnyClientStreamingImpl);
    case "bidi_streaming":
      return bidiStreamingHandler(rt, impl as AnyBiDiStreamingImpl);
  }
}

/**
 * Serializers straight from the descriptors. Implementations return message
 * init shapes; `create` passes real messages through untouched. Buffers are
 * views over protobuf-es's bytes, not copies; an `EncodedOutput` writes
 * itself into the method's `OutputScratch`. A request that does not decode
 * becomes an `UndecodableRequest` the handlers answer with INVALID_ARGUMENT.
 */
function methodDefinition(path: string, method: DescMethod): MethodDefinition<Message, Output> {
  const { input, output } = method;
  const scratch = new OutputScratch();
  return {
    path,
    originalName: method.localName,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (value: Message) => asBuffer(toBinary(input, create(input, value))),
    requestDeserialize: (bytes: Buffer) => decodeRequest(input, bytes) as Message,
    responseSerialize: (value: Output) =>
      value instanceof EncodedOutput ? scratch.write(value) : asBuffer(toBinary(output, create(output, value))),
    responseDeserialize: (bytes: Buffer) => fromBinary(output, bytes),
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
