import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { expect } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

/** Reads a stream message by message. */
export function pull<T>(stream: AsyncIterable<T>) {
  const it = stream[Symbol.asyncIterator]();
  return {
    async next(): Promise<T> {
      const step = await it.next();
      if (step.done) throw new Error("stream ended early");
      return step.value;
    },
    /** Every message until the stream ends, the last one last. */
    async rest(): Promise<T[]> {
      const all: T[] = [];
      for (let step = await it.next(); !step.done; step = await it.next()) all.push(step.value);
      return all;
    },
  };
}

/** A Health Watch stream of the whole server, over a real port. */
export function watchHealth(client: Client<typeof Health>) {
  const stream = pull(client.watch({ service: "" }));
  return {
    /** Resolves at the first status equal to `wanted` (statuses are coalesced, so earlier ones may be skipped). */
    async until(wanted: ServingStatus): Promise<void> {
      while ((await stream.next()).status !== wanted);
    },
  };
}

/** The code and ErrorInfo of a failure, for assertions that name them. */
export function failureOf(err: unknown): { code: string; reason: string | undefined; outcome: string | undefined } {
  const error = ConnectError.from(err);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: Code[error.code], reason: info?.reason, outcome: info?.metadata["outcome"] };
}

/**
 * Asserts that a call or stream read failed with UNAVAILABLE / BACKEND_UNAVAILABLE
 * and resolves with the outcome it reports (`NOT_APPLIED` or `UNKNOWN`).
 */
export async function expectUnavailable(pending: Promise<unknown>): Promise<string | undefined> {
  const failure = await pending.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => failureOf(e),
  );
  expect({ code: failure.code, reason: failure.reason }).toEqual({ code: Code[Code.Unavailable], reason: "BACKEND_UNAVAILABLE" });
  return failure.outcome;
}

export { ServingStatus };
