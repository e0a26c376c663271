import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { FrameReader, frame, grpcHeaders } from "./grpc-wire.js";

/** What a unary gRPC call over a bare HTTP/2 stream returned. */
export interface UnaryOutcome {
  /** `grpc-status` from the trailers (or from trailers-only headers); -1 when missing. */
  readonly status: number;
  readonly message: string;
  /** Response messages, without their 5-byte prefix. */
  readonly messages: readonly Buffer[];
}

/**
 * One gRPC call with nothing but `node:http2`: used to check that a target
 * serves, and that the exact bytes the load generator sends succeed (a gRPC
 * error is an HTTP 200 with a non-zero `grpc-status`, which h2load counts as
 * a success).
 */
export function unaryCall(port: number, path: string, body: Uint8Array, timeoutMs = 2_000): Promise<UnaryOutcome> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`${path} on port ${port}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.once("error", fail);
    const stream = session.request(grpcHeaders(path));
    const reader = new FrameReader();
    const messages: Buffer[] = [];
    let status = -1;
    let message = "";
    const take = (headers: http2.IncomingHttpHeaders): void => {
      const raw = headers["grpc-status"];
      if (raw !== undefined) {
        status = Number(raw);
        message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
      }
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => messages.push(...reader.push(chunk)));
    stream.once("error", fail);
    stream.once("close", () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, message, messages });
    });
    stream.end(frame(body));
  });
}

/** A call that must succeed with exactly one message, decoded with `schema`. */
export async function callOk<Desc extends DescMessage>(
  port: number,
  path: string,
  body: Uint8Array,
  schema: Desc,
  timeoutMs?: number,
): Promise<{ response: MessageShape<Desc>; frameBytes: number }> {
  const outcome = await unaryCall(port, path, body, timeoutMs);
  const [first] = outcome.messages;
  if (outcome.status !== 0 || first === undefined || outcome.messages.length !== 1) {
    throw new Error(`${path} on port ${port} failed: grpc-status ${outcome.status} ${outcome.message}`);
  }
  return { response: fromBinary(schema, first), frameBytes: 5 + first.length };
}

/** Retries `probe` until it resolves, with a short back-off, for at most `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() + delay > deadline) {
        throw new Error(`${what}: not ready after ${timeoutMs} ms (${err instanceof Error ? err.message : String(err)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 250);
    }
  }
}
