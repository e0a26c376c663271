import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { fromBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { createContextKey, createContextValues, type ConnectError, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandlerFn, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { malformedRequest } from "../../rpc/errors.js";
import { checkJsonRequest } from "./strict-json.js";

/** How a protocol frames, compresses and times out a request, read from its content type. */
interface Framing {
  readonly enveloped: boolean;
  readonly json: boolean;
  readonly encodingHeader: string;
  readonly timeoutHeader: string;
  readonly timeoutPattern: RegExp;
}

const grpcTimeout = /^\d{1,8}[HMSmun]$/;
const connectTimeout = /^\d{1,10}$/;
const framings: ReadonlyArray<{ type: RegExp; framing: (json: boolean) => Framing }> = [
  {
    type: /^application\/grpc(?:-web)?(?:\+(proto|json))?\s*(?:;.*)?$/i,
    framing: (json) => ({ enveloped: true, json, encodingHeader: "grpc-encoding", timeoutHeader: "grpc-timeout", timeoutPattern: grpcTimeout }),
  },
  {
    type: /^application\/connect\+(proto|json)\s*(?:;.*)?$/i,
    framing: (json) => ({ enveloped: true, json, encodingHeader: "connect-content-encoding", timeoutHeader: "connect-timeout-ms", timeoutPattern: connectTimeout }),
  },
  {
    type: /^application\/(proto|json)\s*(?:;.*)?$/i,
    framing: (json) => ({ enveloped: false, json, encodingHeader: "content-encoding", timeoutHeader: "connect-timeout-ms", timeoutPattern: connectTimeout }),
  },
];

/** The error a request was refused with before decoding; the first interceptor raises it. */
const rejection = createContextKey<ConnectError | undefined>(undefined, { description: "request refused before decoding" });

/**
 * Raises the refusal `guardRequests` attached to a call, before anything else
 * runs: connect then sends it the way the call's protocol sends errors
 * (Connect JSON, gRPC or gRPC-Web trailers), details included. `onRefused`,
 * if given, hears of each such call (no handler sees them).
 */
export function rejectionInterceptor(onRefused?: RefusalListener): Interceptor {
  return (next) => (req) => {
    const refused = req.contextValues.get(rejection);
    if (refused !== undefined) {
      onRefused?.(req.service, req.method, refused);
      throw refused;
    }
    return next(req);
  };
}

/** Hears of a call refused before its handler ran. */
export type RefusalListener = (service: DescService, method: DescMethod, error: ConnectError) => void;

/**
 * Wraps one connect handler so malformed requests are bad input with details:
 * a timeout header that is not one, a message flagged compressed without an
 * encoding or that does not decompress, a body that is not one well-formed
 * message (binary or JSON; for JSON, unknown enum names and impossible
 * timestamps too, see `checkJsonRequest`). connect-node would answer several
 * of these INTERNAL, the rest without an ErrorInfo.
 *
 * For methods that take one request message, an enveloped body must hold
 * exactly one message: an empty body, or bytes after the first message, are
 * bad input too.
 *
 * A refused request reaches connect with its body replaced by an empty
 * message of the same codec and the refusal in its context values, so
 * connect's protocol code writes the error. Requests it cannot judge
 * (unknown content types, unsupported encodings, GET, oversized bodies,
 * request streams) pass through for connect to answer per its protocols.
 * The body is read once here and handed on as read; the message is decoded
 * here and again by connect (the Connect port is not the hot path).
 */
export function guardRequests(handler: UniversalHandlerFn, method: DescMethod, readMaxBytes: number): UniversalHandlerFn {
  const singleRequest = method.methodKind === "unary" || method.methodKind === "server_streaming";
  return async (req) => {
    const contentType = req.header.get("content-type") ?? "";
    const match = req.method === "POST" ? framings.find((f) => f.type.test(contentType)) : undefined;
    if (match === undefined) return handler(req);
    const framing = match.framing(match.type.exec(contentType)?.[1]?.toLowerCase() === "json");
    const timeout = req.header.get(framing.timeoutHeader);
    if (timeout !== null && !framing.timeoutPattern.test(timeout)) {
      return handler(refuse(req, framing, malformedRequest(`${framing.timeoutHeader} is not a valid timeout: ${clipHeader(timeout)}`, { header: framing.timeoutHeader })));
    }
    if (!singleRequest || !isByteStream(req.body)) return handler(req);
    const body = await readUpTo(req.body, readMaxBytes);
    if (body.rest !== undefined || body.failure !== undefined) {
      // Too large, or the client went away mid-body: connect answers these as it always does.
      return handler({ ...req, body: replay(body.bytes, body.rest, body.failure) });
    }
    const problem = inspect(method, framing, req.header.get(framing.encodingHeader), body.bytes, readMaxBytes);
    return handler(problem === undefined ? { ...req, body: replay(body.bytes) } : refuse(req, framing, problem));
  };
}

/** Why the body is not one decodable request message, or undefined when it is (or when connect should judge). */
function inspect(method: DescMethod, framing: Framing, encoding: string | null, bytes: Uint8Array, limit: number): ConnectError | undefined {
  const codec = encoding === null || encoding === "identity" ? undefined : encoding;
  if (codec !== undefined && codec !== "gzip" && codec !== "br") return undefined;
  let payload = bytes;
  let compressed = codec !== undefined;
  if (framing.enveloped) {
    // A unary or server-streaming call takes exactly one message: none, or more, is bad input (connect would say UNIMPLEMENTED or INTERNAL).
    if (bytes.byteLength === 0) return malformedRequest("request body holds no message (this method takes exactly one)");
    const length = bytes.byteLength >= 5 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(1) : -1;
    if (length < 0 || 5 + length > bytes.byteLength) return malformedRequest("request body ends inside a message (incomplete envelope)");
    if (5 + length < bytes.byteLength) return malformedRequest("request body holds bytes after its message (this method takes exactly one)");
    const flags = bytes[0]!;
    if ((flags & ~1) !== 0) return malformedRequest(`request message has unknown envelope flags 0x${flags.toString(16)}`);
    compressed = (flags & 1) === 1;
    if (compressed && codec === undefined) {
      return malformedRequest(`request message is flagged compressed but ${framing.encodingHeader} names no encoding`, { header: framing.encodingHeader });
    }
    payload = bytes.subarray(5);
  }
  if (compressed) {
    try {
      payload = codec === "gzip" ? gunzipSync(payload, { maxOutputLength: limit }) : brotliDecompressSync(payload, { maxOutputLength: limit });
    } catch (err) {
      if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") return undefined;
      return malformedRequest(`request message does not decompress with ${framing.encodingHeader} ${codec}`, { header: framing.encodingHeader });
    }
  }
  if (framing.json) return checkJsonRequest(method.input, payload);
  try {
    fromBinary(method.input, payload);
    return undefined;
  } catch (err) {
    return malformedRequest(`request body is not a valid ${method.input.typeName}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function refuse(req: UniversalServerRequest, framing: Framing, error: ConnectError): UniversalServerRequest {
  const header = new Headers(req.header);
  for (const name of [framing.timeoutHeader, framing.encodingHeader, "content-length"]) header.delete(name);
  const empty = framing.json ? new TextEncoder().encode("{}") : new Uint8Array(0);
  const body = framing.enveloped ? envelope(empty) : empty;
  const contextValues = req.contextValues ?? createContextValues();
  contextValues.set(rejection, error);
  return { ...req, header, body: replay(body), contextValues };
}

function envelope(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.byteLength);
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

interface ReadBody {
  readonly bytes: Uint8Array;
  /** Set when the body is longer than the limit: the iterator, with the rest unread. */
  readonly rest?: AsyncIterator<Uint8Array>;
  /** Set when reading failed (e.g. the client reset the stream). */
  readonly failure?: { readonly error: unknown };
}

/** Reads the body up to `limit` bytes; past it, hands back the iterator with the rest unread. */
async function readUpTo(body: AsyncIterable<Uint8Array>, limit: number): Promise<ReadBody> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await it.next();
      if (next.done === true) return { bytes: concat(chunks, size) };
      chunks.push(next.value);
      size += next.value.byteLength;
      if (size > limit) return { bytes: concat(chunks, size), rest: it };
    }
  } catch (error) {
    return { bytes: concat(chunks, size), failure: { error } };
  }
}

/** The body as connect would have read it: the bytes already read, then the rest or the read failure. */
async function* replay(bytes: Uint8Array, rest?: AsyncIterator<Uint8Array>, failure?: { error: unknown }): AsyncGenerator<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
  if (failure !== undefined) throw failure.error;
  if (rest === undefined) return;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function clipHeader(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
