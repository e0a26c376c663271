import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { composeRpcObservers, type RpcObserver } from "../../src/observe/rpc-observer.js";

const METHOD = { service: "boxoffice.v1.QueueService", method: "Join", kind: "unary", transport: "grpc" } as const;

it("runs a call within every composed observer, outermost first, and tells each how it ended", () => {
  const seen: string[] = [];
  const observer = (tag: string, scoped: boolean): RpcObserver => ({
    forMethod: (method) => ({
      start: () => ({
        within: scoped
          ? (fn, a, b) => {
              seen.push(`${tag} enters`);
              try {
                return fn(a, b);
              } finally {
                seen.push(`${tag} leaves`);
              }
            }
          : undefined,
        end: (result) => seen.push(`${tag} ${method.method} ${result.code} ${result.requestId}`),
      }),
    }),
  });
  const composed = composeRpcObservers(observer("a", true), undefined, observer("b", false), observer("c", true));
  const call = composed!.forMethod(METHOD)!.start({} as HandlerContext);
  expect(call.within!((x: number, y: number) => (seen.push("runs"), x + y), 2, 3)).toBe(5);
  const error = new ConnectError("no", Code.NotFound);
  call.end({ code: error.code, error, durationMs: 1, requestId: "r", eventId: undefined });
  expect(seen).toEqual(["a enters", "c enters", "runs", "c leaves", "a leaves", "a Join 5 r", "b Join 5 r", "c Join 5 r"]);
});

it("is the one observer given, or none", () => {
  const one: RpcObserver = { forMethod: () => undefined };
  expect(composeRpcObservers(undefined, one)).toBe(one);
  expect(composeRpcObservers()).toBeUndefined();
  expect(composeRpcObservers(one, one)!.forMethod(METHOD)).toBeUndefined();
});
