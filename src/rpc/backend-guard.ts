import type { HandlerContext } from "@connectrpc/connect";
import { backendUnavailable } from "./errors.js";
import { hookedStream, type StreamHooks } from "./hooked-stream.js";
import { wrapMethods, type AnyMethodImpl, type ServiceRegistration } from "./registration.js";

/** Whether the store behind a service can be reached now, and each change of it (a `RedisMonitor`). */
export interface BackendAvailability {
  readonly available: boolean;
  subscribe(listener: (available: boolean) => void): () => void;
}

type AnyFn = AnyMethodImpl;

/**
 * Ties a store-backed service to its store's availability, for every method
 * and both transports at once:
 *
 * - while the store is known to be unreachable, a call fails at once with
 *   UNAVAILABLE (BACKEND_UNAVAILABLE, outcome NOT_APPLIED): it never reaches
 *   the store, so it cannot take effect later;
 * - a server stream ends with that error as soon as the store becomes
 *   unreachable, instead of falling silent until its client gives up: its
 *   implementation's `ctx.signal` aborts with the error, and since every
 *   wait of a stream races its signal, the wait rethrows it and the
 *   implementation's `finally` blocks run. (A wait deaf to the signal, such
 *   as a store call, ends on its own with the command timeout.)
 *
 * Mount it inside the call policy (`withCallPolicy(withBackendGuard(…))`),
 * and only around services whose every method needs the store: Health and
 * reflection must keep answering while it is gone.
 */
export function withBackendGuard(reg: ServiceRegistration, backend: BackendAvailability): ServiceRegistration {
  return wrapMethods(reg, (method, fn) => (method.methodKind === "server_streaming" ? guardStream(fn, backend) : guardCall(fn, backend)));
}

function guardCall(fn: AnyFn, backend: BackendAvailability): AnyFn {
  return (input, ctx) => {
    if (!backend.available) {
      throw backendUnavailable("NOT_APPLIED");
    }
    return fn(input, ctx);
  };
}

function guardStream(fn: AnyFn, backend: BackendAvailability): AnyFn {
  return (request, ctx) => {
    const guard = new StreamGuard(ctx, backend);
    return hookedStream(() => {
      // Passed through, not raced per message: every wait of an
      // implementation races its signal, so the abort ends the stream with that error.
      return fn(request, withSignal(ctx, guard.start())) as AsyncIterable<unknown>;
    }, guard);
  };
}

/**
 * One guarded stream: the implementation's signal, which aborts with the
 * call's or when the store is lost. A class rather than closures (it is the
 * signal's listener itself): an open stream keeps it for its whole life.
 */
class StreamGuard implements StreamHooks {
  readonly #ctx: HandlerContext;
  readonly #backend: BackendAvailability;
  readonly #controller = new AbortController();
  #unsubscribe: (() => void) | undefined;

  constructor(ctx: HandlerContext, backend: BackendAvailability) {
    this.#ctx = ctx;
    this.#backend = backend;
  }

  /** Refuses the stream while the store is unreachable; otherwise the implementation's signal. */
  start(): AbortSignal {
    if (!this.#backend.available) {
      throw backendUnavailable("NOT_APPLIED");
    }
    const controller = this.#controller;
    const signal = this.#ctx.signal;
    signal.addEventListener("abort", this, { once: true });
    this.#unsubscribe = this.#backend.subscribe((available) => {
      if (!available) {
        controller.abort(backendUnavailable());
      }
    });
    if (signal.aborted) {
      this.handleEvent();
    }
    return controller.signal;
  }

  /** The call's signal aborted. */
  handleEvent(): void {
    this.#controller.abort(this.#ctx.signal.reason);
  }

  finally(): void {
    const unsubscribe = this.#unsubscribe;
    if (unsubscribe !== undefined) {
      this.#unsubscribe = undefined;
      unsubscribe();
      this.#ctx.signal.removeEventListener("abort", this);
    }
  }
}

/**
 * The call's context with another signal. A proxy rather than a copy: the
 * grpc-js context keeps its lazy members behind prototype getters and reads
 * what the implementation wrote (response headers, trailers) from itself.
 */
function withSignal(ctx: HandlerContext, signal: AbortSignal): HandlerContext {
  return new Proxy(ctx, {
    get(target, property) {
      if (property === "signal") {
        return signal;
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
