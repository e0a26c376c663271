import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { combineObservers, type CallObserver, type ObservedMethod } from "../../src/rpc/call-observer.js";

/** An observer that writes down what it sees, as a trace exporter in a test would. */
function recorder(name: string, seen: string[], only?: string): CallObserver {
  return {
    method: (m: ObservedMethod) =>
      only !== undefined && m.method !== only
        ? undefined
        : {
            start: () => ({
              received: () => seen.push(`${name} received ${m.method}`),
              sent: () => seen.push(`${name} sent ${m.method}`),
              end: (code, seconds) => seen.push(`${name} end ${m.method} ${code ?? "OK"} ${seconds}`),
            }),
          },
  };
}

const join: ObservedMethod = { service: "boxoffice.v1.QueueService", method: "Join", kind: "unary", transport: "grpc" };
const leave: ObservedMethod = { ...join, method: "Leave" };

describe("combineObservers", () => {
  it("is nothing without observers and the observer itself with one", () => {
    expect(combineObservers([undefined, undefined])).toBeUndefined();
    const one = recorder("a", []);
    expect(combineObservers([undefined, one])).toBe(one);
  });

  it("hands every observation to every observer of the method", () => {
    const seen: string[] = [];
    const both = combineObservers([recorder("metrics", seen), recorder("traces", seen, "Join")])!;
    const call = both.method(join)!.start(undefined);
    call.received();
    call.sent();
    call.end(Code.NotFound, 0.5);
    both.method(leave)!.start(undefined).end(undefined, 0.25);
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
