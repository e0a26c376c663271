import { gzipSync } from "node:zlib";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { WireRequest } from "./fuzz-wire.js";
import { concat, randomBinary, randomJson, type Rng } from "./fuzz-values.js";

/** One fuzz case: the request, and what it aimed at (for the report of a failure). */
export interface FuzzCase {
  readonly n: number;
  readonly label: string;
  readonly request: WireRequest;
  /** The target answers with a stream, which may run until the call's deadline. */
  readonly streaming: boolean;
  /** The request names no method, or speaks no protocol or encoding the server offers: UNIMPLEMENTED is a fair answer. */
  readonly unroutable: boolean;
}

export interface Targets {
  readonly grpcUrl: string;
  readonly connectUrl: string;
  readonly methods: ReadonlyArray<{ readonly service: DescService; readonly method: DescMethod }>;
}

type Protocol = "grpc-port/grpc" | "grpc-port/grpc+json" | "connect-port/grpc" | "connect-port/grpc+json" | "connect-port/grpc-web" | "connect-port/connect";
const PROTOCOLS: readonly Protocol[] = [
  "grpc-port/grpc",
  "grpc-port/grpc",
  "grpc-port/grpc",
  "grpc-port/grpc+json",
  "connect-port/grpc",
  "connect-port/grpc+json",
  "connect-port/grpc-web",
  "connect-port/connect",
  "connect-port/connect",
];

const WRONG_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/grpc+xml", "", "application/jsonx", "application/connect+xml", "multipart/form-data", "application/grpc-web-text"];
const BAD_TIMEOUTS = ["1", "99999999999S", "-1S", "1X", "", "1.5S", "S", "1 S"];
const BAD_ENCODINGS = ["gzip", "br", "zstd", "deflate,gzip", "", "identity,gzip", "x".repeat(300)];
const BAD_PATHS = ["/", "/boxoffice.v1.QueueService/Nope", "/boxoffice.v1.Nope/Join", "/boxoffice.v1.QueueService/", "/%00", "/boxoffice.v1.QueueService/Join/x", "//", `/${"a".repeat(2_000)}`, "/grpc.health.v1.Health/check", "/boxoffice.v1.queueservice/Join"];

/** Most of a 4 MiB limit and then some: the oversized body of a few cases. */
const OVERSIZED = 4 * 1024 * 1024 + 16;

/**
 * A random case: a random method of a random service, over a random
 * protocol and port, with a random (mostly hostile) message, and sometimes a
 * wrong content type, an unknown path, a bad timeout or encoding header, a
 * damaged envelope, an oversized body or a GET.
 */
export function randomCase(rng: Rng, n: number, targets: Targets): FuzzCase {
  const { service, method } = rng.pick(targets.methods);
  const protocol = rng.pick(PROTOCOLS);
  const onGrpcPort = protocol.startsWith("grpc-port");
  const baseUrl = onGrpcPort ? targets.grpcUrl : targets.connectUrl;
  const streaming = method.methodKind !== "unary";
  const json = protocol.endsWith("+json") || (protocol === "connect-port/connect" && rng.chance(0.6)) || (protocol === "connect-port/grpc-web" && rng.chance(0.3));
  let message = json ? randomJson(rng, method.input) : randomBinary(rng, method.input);
  const notes: string[] = [protocol, json ? "json" : "proto"];
  const headers: Record<string, string> = {};

  const enveloped = protocol !== "connect-port/connect" || streaming;
  if (protocol.includes("grpc-web")) headers["content-type"] = `application/grpc-web+${json ? "json" : "proto"}`;
  else if (protocol.includes("grpc")) headers["content-type"] = json ? "application/grpc+json" : rng.pick(["application/grpc", "application/grpc+proto"]);
  else headers["content-type"] = streaming ? `application/connect+${json ? "json" : "proto"}` : `application/${json ? "json" : "proto"}`;
  const connectProtocol = protocol === "connect-port/connect";
  if (connectProtocol) headers["connect-protocol-version"] = rng.chance(0.95) ? "1" : rng.pick(["2", "", "x"]);

  // Every streamed call carries a deadline, so an accepted stream ends on its own.
  const timeoutHeader = protocol.includes("grpc") ? "grpc-timeout" : "connect-timeout-ms";
  if (streaming || rng.chance(0.3)) headers[timeoutHeader] = timeoutHeader === "grpc-timeout" ? "500m" : "500";
  // (Unary only: grpc-js reads an empty or over-long grpc-timeout as none, and a stream such as Health.Watch then never ends.)
  if (rng.chance(0.05) && !streaming) {
    headers[timeoutHeader] = rng.pick(BAD_TIMEOUTS);
    notes.push("bad timeout");
  }
  const encodingHeader = protocol.includes("grpc") ? "grpc-encoding" : enveloped ? "connect-content-encoding" : "content-encoding";
  let flags = 0;
  if (rng.chance(0.06)) {
    headers[encodingHeader] = rng.pick(BAD_ENCODINGS);
    flags = rng.chance(0.5) ? 1 : 0;
    if (headers[encodingHeader] === "gzip" && rng.chance(0.5)) message = gzipSync(message);
    notes.push(`encoding ${headers[encodingHeader]!.slice(0, 20)}`);
  }
  let path = `/${service.typeName}/${method.name}`;
  if (rng.chance(0.05)) {
    path = rng.pick(BAD_PATHS);
    notes.push("unknown path");
  }
  if (rng.chance(0.06)) {
    headers["content-type"] = rng.pick(WRONG_TYPES);
    notes.push(`content-type ${JSON.stringify(headers["content-type"])}`);
  }
  let body = enveloped ? envelope(message, flags) : message;
  if (enveloped && rng.chance(0.08)) {
    body = damageEnvelope(rng, message);
    notes.push("damaged envelope");
  }
  if (rng.chance(0.002)) {
    body = enveloped ? envelope(new Uint8Array(OVERSIZED)) : new Uint8Array(OVERSIZED);
    notes.push("oversized");
  }
  let httpMethod: "POST" | "GET" = "POST";
  // (A GET carries its message in the URL: only small ones, within the server's header limits.)
  if (!onGrpcPort && message.byteLength < 4_096 && rng.chance(0.02)) {
    httpMethod = "GET";
    path += `?connect=v1&encoding=${json ? "json" : "proto"}&message=${encodeURIComponent(Buffer.from(message).toString(json ? "utf8" : "base64url"))}`;
    notes.push("GET");
  }
  // The gRPC protocol needs HTTP/2; gRPC-Web and Connect go over either.
  const h1 = !onGrpcPort && !protocol.endsWith("/grpc") && !protocol.endsWith("/grpc+json") && rng.chance(0.4);
  return {
    n,
    label: `${service.typeName}/${method.name} ${notes.join(", ")}${h1 ? " (HTTP/1.1)" : ""}`,
    request: { baseUrl, http: h1 ? "h1" : "h2", method: httpMethod, path, headers, body },
    streaming,
    unroutable: notes.some((note) => /^(unknown path|content-type|encoding|GET)/.test(note)) || protocol === "grpc-port/grpc+json",
  };
}

function envelope(payload: Uint8Array, flags = 0, declared = payload.byteLength): Uint8Array {
  const head = new Uint8Array(5);
  head[0] = flags;
  new DataView(head.buffer).setUint32(1, declared);
  return concat(head, payload);
}

/** A body whose framing lies: length past the end or short of it, odd flags, two messages, a bare prefix, nothing. */
function damageEnvelope(rng: Rng, message: Uint8Array): Uint8Array {
  switch (rng.int(6)) {
    case 0:
      return envelope(message, 0, message.byteLength + 1 + rng.int(100));
    case 1:
      return envelope(message, 0, Math.max(0, message.byteLength - 1));
    case 2:
      return envelope(message, rng.pick([2, 0x80, 0xff, 3]));
    case 3:
      return concat(envelope(message), envelope(message));
    case 4:
      return Uint8Array.of(0, 0, 0);
    default:
      return new Uint8Array(0);
  }
}
