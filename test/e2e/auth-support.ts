import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

export type TransportName = "grpc-port/grpc" | "connect-port/grpc" | "connect-port/connect" | "connect-port/grpc-web";
export const TRANSPORT_NAMES: readonly TransportName[] = ["grpc-port/grpc", "connect-port/grpc", "connect-port/connect", "connect-port/grpc-web"];

/** Every way to reach the two ports, sending `headers` with each call. */
export function transportsWith(grpcUrl: string, connectUrl: string, headers: Record<string, string>): Record<TransportName, Transport> {
  const add: Interceptor = (next) => (req) => {
    for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
    return next(req);
  };
  const interceptors = [add];
  return {
    "grpc-port/grpc": createGrpcTransport({ baseUrl: grpcUrl, interceptors }),
    "connect-port/grpc": createGrpcTransport({ baseUrl: connectUrl, interceptors }),
    "connect-port/connect": createConnectTransport({ baseUrl: connectUrl, httpVersion: "1.1", interceptors }),
    "connect-port/grpc-web": createGrpcWebTransport({ baseUrl: connectUrl, httpVersion: "1.1", interceptors }),
  };
}

/** What one call came to: OK, or a code with the ErrorInfo reason and metadata. */
export type Outcome = { ok: true } | { ok: false; code: number; reason: string | undefined; metadata: Record<string, string> };

/**
 * Calls any method with `request` and settles on its first answer: a unary
 * response, a stream's first message (the stream is then cancelled), or the
 * error.
 */
export async function callOnce(transport: Transport, service: DescService, method: DescMethod, request: object): Promise<Outcome> {
  const client = createClient(service, transport) as unknown as Record<string, (req: object, opts: object) => unknown>;
  const abort = new AbortController();
  try {
    const result = client[method.localName]!(request, { signal: abort.signal });
    if (method.methodKind === "server_streaming") {
      for await (const _ of result as AsyncIterable<unknown>) break;
    } else {
      await result;
    }
    return { ok: true };
  } catch (err) {
    const error = ConnectError.from(err);
    const info = error.findDetails(ErrorInfoSchema)[0];
    return { ok: false, code: error.code, reason: info?.reason, metadata: { ...info?.metadata } };
  } finally {
    abort.abort();
  }
}

/** A request that would pass validation for most methods: the ids filled in where the message has them. */
export function sampleRequest(method: DescMethod, eventId: string): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const field of method.input.fields) {
    if (field.localName === "eventId") request["eventId"] = eventId;
    if (field.localName === "userId") request["userId"] = "u1";
  }
  return request;
}
