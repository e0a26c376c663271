import type { Interceptor } from "@connectrpc/connect";
import { shutdownError, type CallRegistry } from "../call-registry.js";
import type { RefusalListener } from "./request-guard.js";

/**
 * Gives each call a signal the server can abort on shutdown, with an
 * UNAVAILABLE `ConnectError` as its reason, without subscribing every call to
 * one shared signal (see `CallRegistry` for why connect's `shutdownSignal` is
 * not used). The implementation's `ctx.signal` is this signal; it also follows
 * connect's own (client gone, deadline, call complete), whose abort takes the
 * call out of the registry.
 *
 * While draining, new streaming calls are refused with UNAVAILABLE before the
 * implementation runs (and `onRefused` hears of it).
 */
export function drainInterceptor(registry: CallRegistry, onRefused?: RefusalListener): Interceptor {
  return (next) => async (req) => {
    const streaming = req.method.methodKind !== "unary";
    if (streaming && registry.isDraining) {
      const error = shutdownError();
      onRefused?.(req.service, req.method, error);
      throw error;
    }
    const controller = new AbortController();
    const parent = req.signal;
    if (parent.aborted) {
      controller.abort(parent.reason);
    } else {
      parent.addEventListener(
        "abort",
        () => {
          registry.leave(controller, streaming);
          controller.abort(parent.reason);
        },
        { once: true },
      );
      registry.enter(controller, streaming);
    }
    return next({ ...req, signal: controller.signal });
  };
}
