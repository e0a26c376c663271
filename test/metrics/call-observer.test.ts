import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { composeRpcObservers, type RpcMethod, type RpcObserver } from "../../src/observe/rpc-observer.js";

/** An observer that writes down what it sees, as a trace exporter in a test would. */
function recorder(name: string, seen: string[], only?: string): RpcObserver {
  return {
    forMethod: (m: RpcMethod) =>
      only !== undefined && m.method !== only
        ? undefined
        : {
            start: () => ({
              received: () => seen.push(`${name} received ${m.method}`),
              sent: () => seen.push(`${name} sent ${m.method}`),
              end: ({ code, durationMs }) => seen.push(`${name} end ${m.method} ${code === 0 ? "OK" : code} ${durationMs / 1000}`),
            }),
          },
  };
}

const join: RpcMethod = { service: "boxoffice.v1.QueueService", method: "Join", kind: "unary", transport: "grpc" };
const leave: RpcMethod = { ...join, method: "Leave" };

/** How a call ended, as the call log tells it. */
const ended = (code: Code | 0, durationMs: number) => ({ code, error: undefined, durationMs, requestId: "r", eventId: undefined });

describe("composeRpcObservers", () => {
  it("is nothing without observers and the observer itself with one", () => {
    expect(composeRpcObservers(undefined, undefined)).toBeUndefined();
    const one = recorder("a", []);
    expect(composeRpcObservers(undefined, one)).toBe(one);
  });

  it("hands every observation to every observer of the method", () => {
    const seen: string[] = [];
    const both = composeRpcObservers(recorder("metrics", seen), recorder("traces", seen, "Join"))!;
    const call = both.forMethod(join)!.start(undefined);
    call.received!();
    call.sent!();
    call.end(ended(Code.NotFound, 500));
    both.forMethod(leave)!.start(undefined).end(ended(0, 250));
    expect(seen).toEqual([
      "metrics received Join",
      "traces received Join",
      "metrics sent Join",
      "traces sent Join",
      `metrics end Join ${Code.NotFound} 0.5`,
      `traces end Join ${Code.NotFound} 0.5`,
      "metrics end Leave OK 0.25",
    ]);
  });
});
