import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";

/** A gRPC (or gRPC-Web) outcome read off the wire: code, message and decoded details. */
export interface WireStatus {
  readonly httpStatus: number;
  readonly code: Code | undefined;
  readonly message: string;
  readonly errorInfo: ErrorInfo | undefined;
  readonly badRequest: BadRequest | undefined;
  /** Bytes of response headers and trailers as sent, names and values. */
  readonly metadataBytes: number;
}

/** One length-prefixed gRPC message: flags byte, 32-bit big-endian length, payload. */
export function envelope(payload: Uint8Array, flags = 0, declaredLength = payload.byteLength): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, payload]);
}

/**
 * Sends one HTTP/2 request exactly as given (any headers, any body) and reads
 * the gRPC status from the trailers, or from the headers of a trailers-only
 * answer. Nothing here validates what is sent: that is the point.
 */
export async function rawGrpcCall(baseUrl: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<WireStatus> {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  try {
    return await new Promise<WireStatus>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
      let head: http2.IncomingHttpHeaders = {};
      let tail: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (head = h));
      req.on("trailers", (t) => (tail = t));
      req.on("data", () => {});
      req.on("error", reject);
      req.on("end", () => resolve(readStatus(head, tail)));
      req.end(Buffer.from(body));
    });
  } finally {
    session.close();
  }
}

function readStatus(head: http2.IncomingHttpHeaders, tail: http2.IncomingHttpHeaders): WireStatus {
  const all = { ...head, ...tail };
  const raw = all["grpc-status"];
  const code = raw === undefined ? undefined : (Number(raw) as Code);
  const details = all["grpc-status-details-bin"];
  const parsed = typeof details === "string" ? decodeDetails(details) : { errorInfo: undefined, badRequest: undefined };
  const message = typeof all["grpc-message"] === "string" ? decodeURIComponent(all["grpc-message"]) : "";
  return { httpStatus: Number(head[":status"]), code, message, ...parsed, metadataBytes: headerBytes(head) + headerBytes(tail) };
}

/** ErrorInfo and BadRequest out of a base64 `google.rpc.Status`. */
export function decodeDetails(base64: string): { errorInfo: ErrorInfo | undefined; badRequest: BadRequest | undefined } {
  const status = fromBinary(StatusSchema, Buffer.from(base64, "base64"));
  let errorInfo: ErrorInfo | undefined;
  let badRequest: BadRequest | undefined;
  for (const any of status.details) {
    errorInfo ??= anyUnpack(any, ErrorInfoSchema);
    badRequest ??= anyUnpack(any, BadRequestSchema);
  }
  return { errorInfo, badRequest };
}

function headerBytes(headers: http2.IncomingHttpHeaders): number {
  let n = 0;
  for (const [key, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value ?? ""]) n += key.length + String(v).length;
  }
  return n;
}

/**
 * Sends one gRPC-Web request over HTTP/1.1 exactly as given and reads the
 * status from the trailer frame (flag 0x80) at the end of the body, or from
 * the headers of a trailers-only answer.
 */
export async function rawGrpcWebCall(baseUrl: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<WireStatus> {
  const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const head: http2.IncomingHttpHeaders = { ":status": String(res.status) };
  res.headers.forEach((value, key) => (head[key] = value));
  const tail: http2.IncomingHttpHeaders = {};
  for (let at = 0; at + 5 <= bytes.byteLength; ) {
    const length = bytes.readUInt32BE(at + 1);
    if ((bytes[at]! & 0x80) === 0x80) {
      for (const line of bytes.subarray(at + 5, at + 5 + length).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) tail[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    at += 5 + length;
  }
  return readStatus(head, tail);
}
