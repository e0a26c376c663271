import http2 from "node:http2";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ErrorInfoSchema, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { decodeDetails } from "./raw-wire.js";

/** One request exactly as it goes on the wire. */
export interface WireRequest {
  readonly baseUrl: string;
  /** h2: one shared HTTP/2 connection per port (prior knowledge); h1: fetch over HTTP/1.1. */
  readonly http: "h2" | "h1";
  readonly method: "POST" | "GET";
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** What came back, read the way the response's own protocol says. */
export interface WireOutcome {
  readonly httpStatus: number;
  /** 0 for OK; undefined when the response carries no RPC status at all (a plain HTTP refusal). */
  readonly code: number | undefined;
  readonly errorInfo: ErrorInfo | undefined;
  /** Bytes of the error as sent: gRPC headers and trailers, or the Connect error JSON. */
  readonly errorBytes: number;
  /** The call did not finish within the client's own cap and was cancelled. */
  readonly cut: boolean;
  /** The server reset the stream or dropped the connection instead of answering: the error's code. */
  readonly reset?: string;
  /** The response as received, for the report of a failure. */
  readonly raw?: string;
}

const CONNECT_CODES: Readonly<Record<string, Code>> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/**
 * HTTP/2 connections by base URL, each used for `perSession` requests (as if
 * by many clients) and opened again when the server closed one. One
 * connection carrying a thousand hostile calls ends up refused by Node's
 * HTTP/2 flood protection (ENHANCE_YOUR_CALM), which is the server defending
 * itself, not what this test looks for.
 */
/** Room for every oversized body a session may carry at once (a case's body is at most a few MiB). */
const SESSION_MEMORY_MB = 1024;

export class SessionPool {
  private readonly sessions = new Map<string, { session: http2.ClientHttp2Session; used: number }>();
  private readonly retired: http2.ClientHttp2Session[] = [];

  constructor(private readonly perSession = 100) {}

  get(baseUrl: string): http2.ClientHttp2Session {
    const existing = this.sessions.get(baseUrl);
    if (existing !== undefined && !existing.session.closed && !existing.session.destroyed && existing.used < this.perSession) {
      existing.used++;
      return existing.session;
    }
    // Left open, unused, until the pool closes: closing it now could refuse calls it has not sent yet.
    if (existing !== undefined) this.retired.push(existing.session);
    // Node's client keeps at most 10 MB of a session's buffered data by default, and past that refuses the
    // headers of any answer (it resets the stream, ENHANCE_YOUR_CALM): a few oversized bodies the server
    // stopped reading, waiting to be sent on one session, are more than that.
    const session = http2.connect(baseUrl, { maxSessionMemory: SESSION_MEMORY_MB });
    session.on("error", () => {});
    this.sessions.set(baseUrl, { session, used: 1 });
    return session;
  }

  close(): void {
    for (const { session } of this.sessions.values()) session.destroy();
    for (const session of this.retired) session.destroy();
    this.sessions.clear();
    this.retired.length = 0;
  }
}

/** Sends one request and reads its outcome; a call still running after `capMs` is cancelled (`cut`). */
export async function send(pool: SessionPool, req: WireRequest, capMs: number): Promise<WireOutcome> {
  const raw = req.http === "h2" ? await sendH2(pool, req, capMs) : await sendH1(req, capMs);
  return read(raw);
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly trailers: Record<string, string>;
  readonly body: Buffer;
  readonly cut: boolean;
  readonly reset?: string;
}

function sendH2(pool: SessionPool, req: WireRequest, capMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const stream = pool.get(req.baseUrl).request({ ":method": req.method, ":path": req.path, te: "trailers", ...req.headers });
    const headers: Record<string, string> = {};
    const trailers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, capMs);
    stream.on("response", (h) => Object.assign(headers, flat(h)));
    stream.on("trailers", (t) => Object.assign(trailers, flat(t)));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    let reset: string | undefined;
    stream.on("error", (err: Error & { code?: string }) => {
      reset = `${err.code ?? "error"}: ${err.message}`;
    });
    const settle = (): void => {
      clearTimeout(timer);
      resolve({ status: Number(headers[":status"] ?? 0), headers, trailers, body: Buffer.concat(chunks), cut, reset });
    };
    // The answer is complete when the response ends, even if the server stopped reading a body it
    // refused (too large) and the rest of it can never be sent: then that stream is cancelled here.
    // (Only that one: a client resetting streams by the hundred is told to ENHANCE_YOUR_CALM.)
    stream.on("end", () => {
      settle();
      if (!stream.closed && !stream.writableFinished) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.on("close", settle);
    if (req.method === "GET") stream.end();
    else stream.end(Buffer.from(req.body));
  });
}

async function sendH1(req: WireRequest, capMs: number): Promise<RawResponse> {
  const controller = new AbortController();
  let cut = false;
  const timer = setTimeout(() => {
    cut = true;
    controller.abort();
  }, capMs);
  try {
    const res = await fetch(`${req.baseUrl}${req.path}`, {
      method: req.method,
      headers: req.headers,
      body: req.method === "GET" ? undefined : req.body,
      signal: controller.signal,
    });
    const body = Buffer.from(await res.arrayBuffer());
    const headers: Record<string, string> = { ":status": String(res.status) };
    // fetch has already decoded a compressed body.
    res.headers.forEach((value, key) => {
      if (key !== "content-encoding") headers[key] = value;
    });
    return { status: res.status, headers, trailers: {}, body, cut: false };
  } catch (err) {
    if (cut) return { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), cut: true };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), cut: false, reset: `${cause?.code ?? "fetch"}: ${cause?.message ?? String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

function flat(h: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.join(", ") : String(v ?? "");
  return out;
}

function read(raw: RawResponse): WireOutcome {
  try {
    const outcome = readStatus(raw);
    return outcome.code === undefined ? { ...outcome, raw: describe(raw) } : outcome;
  } catch (err) {
    return { httpStatus: raw.status, cut: false, code: undefined, errorInfo: undefined, errorBytes: 0, reset: `unreadable response (${String(err)}): ${describe(raw)}` };
  }
}

function readStatus(raw: RawResponse): WireOutcome {
  const type = raw.headers["content-type"] ?? "";
  const base = { httpStatus: raw.status, cut: raw.cut };
  if (raw.cut) return { ...base, code: undefined, errorInfo: undefined, errorBytes: 0 };
  if (raw.reset !== undefined && raw.headers["grpc-status"] === undefined && raw.trailers["grpc-status"] === undefined) {
    return { ...base, code: undefined, errorInfo: undefined, errorBytes: 0, reset: raw.reset };
  }
  if (raw.headers["grpc-status"] !== undefined || type.startsWith("application/grpc")) {
    const trailers = type.startsWith("application/grpc-web") ? { ...raw.trailers, ...webTrailers(raw.body, raw.headers["grpc-encoding"]) } : raw.trailers;
    return grpcOutcome(base, { ...raw.headers, ...trailers }, bytesOf(raw.headers) + bytesOf(trailers));
  }
  if (type.startsWith("application/connect+")) {
    return connectStreamOutcome(base, raw.body, raw.headers["connect-content-encoding"]);
  }
  if (type.startsWith("application/json") && raw.status !== 200) {
    return connectErrorOutcome(base, decompress(raw.body, raw.headers["content-encoding"]));
  }
  if (raw.status === 200) return { ...base, code: 0, errorInfo: undefined, errorBytes: 0 };
  return { ...base, code: undefined, errorInfo: undefined, errorBytes: raw.body.byteLength };
}

function grpcOutcome(base: { httpStatus: number; cut: boolean }, all: Record<string, string>, errorBytes: number): WireOutcome {
  const status = all["grpc-status"];
  const details = all["grpc-status-details-bin"];
  return {
    ...base,
    code: status === undefined ? undefined : Number(status),
    errorInfo: details === undefined ? undefined : decodeDetails(details).errorInfo,
    errorBytes,
  };
}

/** Connect's end-of-stream message (flag 0x02): `{"error": {...}}` or none for OK. */
function connectStreamOutcome(base: { httpStatus: number; cut: boolean }, body: Buffer, encoding: string | undefined): WireOutcome {
  for (let at = 0; at + 5 <= body.byteLength; ) {
    const length = body.readUInt32BE(at + 1);
    if ((body[at]! & 0x02) === 0x02) {
      const framed = body.subarray(at + 5, at + 5 + length);
      const text = (body[at]! & 0x01) === 0x01 ? decompress(framed, encoding) : framed;
      const end = JSON.parse(text.toString("utf8")) as { error?: ConnectErrorJson };
      if (end.error === undefined) return { ...base, code: 0, errorInfo: undefined, errorBytes: 0 };
      return { ...connectError(base, end.error), errorBytes: text.byteLength };
    }
    at += 5 + length;
  }
  return { ...base, code: undefined, errorInfo: undefined, errorBytes: 0 };
}

interface ConnectErrorJson {
  code?: string;
  details?: Array<{ type?: string; value?: string }>;
}

function connectErrorOutcome(base: { httpStatus: number; cut: boolean }, body: Buffer): WireOutcome {
  const json = JSON.parse(body.toString("utf8")) as ConnectErrorJson;
  return { ...connectError(base, json), errorBytes: body.byteLength };
}

function connectError(base: { httpStatus: number; cut: boolean }, json: ConnectErrorJson): WireOutcome {
  const info = json.details?.find((d) => d.type === ErrorInfoSchema.typeName)?.value;
  return {
    ...base,
    code: json.code === undefined ? Code.Unknown : (CONNECT_CODES[json.code] ?? Code.Unknown),
    errorInfo: info === undefined ? undefined : fromBinary(ErrorInfoSchema, Buffer.from(info, "base64")),
    errorBytes: 0,
  };
}

function describe(raw: RawResponse): string {
  return `${JSON.stringify({ ...raw.headers, ...raw.trailers })} ${raw.body.subarray(0, 120).toString("hex")}`;
}

/** A body as sent with `encoding` (gzip or br), decompressed. */
function decompress(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding === "gzip") return gunzipSync(body);
  if (encoding === "br") return brotliDecompressSync(body);
  return body;
}

/** The trailers of a gRPC-Web body: the frame flagged 0x80 (compressed too when also flagged 0x01), as `name: value` lines. */
function webTrailers(body: Buffer, encoding: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (let at = 0; at + 5 <= body.byteLength; ) {
    const length = body.readUInt32BE(at + 1);
    if ((body[at]! & 0x80) === 0x80) {
      const frame = body.subarray(at + 5, at + 5 + length);
      const text = (body[at]! & 0x01) === 0x01 ? decompress(frame, encoding) : frame;
      for (const line of text.toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    at += 5 + length;
  }
  return out;
}

function bytesOf(headers: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) n += k.length + v.length;
  return n;
}
