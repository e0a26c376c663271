import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { wrapMethods, type AnyMethodImpl, type ServiceRegistration } from "./registration.js";

/**
 * Gives every unary call that arrives without a deadline one of `ms`: its
 * `ctx.signal` aborts with DEADLINE_EXCEEDED then, `ctx.timeoutMs()` counts
 * down to it, and the call answers DEADLINE_EXCEEDED even if the
 * implementation is still waiting (on a Redis that stopped answering, say).
 * As with any deadline, the work may still take effect: every mutating RPC
 * converges when retried with the same request. Calls that carry a deadline,
 * and streams, are left alone. `ms` 0: no default deadline.
 *
 * Mount it inside the call policy, so credentials and validation come first.
 */
export function withDefaultDeadline(reg: ServiceRegistration, ms: number): ServiceRegistration {
  if (ms <= 0) return reg;
  return wrapMethods(reg, (method, fn) => (method.methodKind === "unary" ? bounded(fn, ms) : fn));
}

function bounded(fn: AnyMethodImpl, ms: number): AnyMethodImpl {
  return (request, ctx) => {
    if (ctx.timeoutMs() !== undefined) return fn(request, ctx);
    const deadline = Date.now() + ms;
    let controller: AbortController | undefined;
    let onCallAbort: (() => void) | undefined;
    // The signal is made on first use: most implementations never read it.
    const signal = (): AbortSignal => {
      if (controller === undefined) {
        const own = new AbortController();
        controller = own;
        onCallAbort = () => own.abort(ctx.signal.reason);
        if (ctx.signal.aborted) own.abort(ctx.signal.reason);
        else ctx.signal.addEventListener("abort", onCallAbort, { once: true });
      }
      return controller.signal;
    };
    const settled = (): void => {
      if (onCallAbort !== undefined) ctx.signal.removeEventListener("abort", onCallAbort);
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Made only when it happens: an error captures a stack, too dear for every call.
        const expired = new ConnectError(
          `the call did not finish within the server's default deadline of ${ms} ms (send a deadline to choose another)`,
          Code.DeadlineExceeded,
        );
        controller?.abort(expired);
        settled();
        reject(expired);
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        settled();
      };
      (async () => fn(request, withDeadline(ctx, signal, () => deadline - Date.now())))().then(
        (output) => {
          done();
          resolve(output);
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
    });
  };
}

/**
 * The call's context with the default deadline's signal and countdown. A
 * proxy rather than a copy: the grpc-js context keeps its lazy members behind
 * prototype getters and reads what the implementation wrote (response
 * headers, trailers) from itself.
 */
function withDeadline(ctx: HandlerContext, signal: () => AbortSignal, timeoutMs: () => number): HandlerContext {
  return new Proxy(ctx, {
    get(target, property) {
      if (property === "signal") return signal();
      if (property === "timeoutMs") return timeoutMs;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
