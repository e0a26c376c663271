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
  const open = new GuardedStreams(backend);
  // The guard opens the implementation's stream itself: no closure per stream.
  return (request, ctx) => {
    const guard = new StreamGuard(fn, request, ctx, open);
    return hookedStream(guard, guard);
  };
}

/**
 * A handler context that can abort its own call's signal (the gRPC port's,
 * `GrpcHandlerContext`): a guarded stream then aborts it directly, and needs
 * no signal of its own.
 */
export interface AbortableContext extends HandlerContext {
  abortCall(reason: unknown): void;
}

function abortable(ctx: HandlerContext): ctx is AbortableContext {
  return typeof (ctx as Partial<AbortableContext>).abortCall === "function";
}

/**
 * The open guarded streams of one method: one availability listener for all
 * of them (subscribed while any is open), rather than a listener and its
 * unsubscribe function per stream.
 */
class GuardedStreams {
  readonly #backend: BackendAvailability;
  readonly #open = new Set<StreamGuard>();
  #unsubscribe: (() => void) | undefined;
  readonly #changed = (available: boolean): void => {
    if (!available) {
      for (const guard of [...this.#open]) guard.lost();
    }
  };

  constructor(backend: BackendAvailability) {
    this.#backend = backend;
  }

  get available(): boolean {
    return this.#backend.available;
  }

  add(guard: StreamGuard): void {
    if (this.#open.size === 0) {
      this.#unsubscribe = this.#backend.subscribe(this.#changed);
    }
    this.#open.add(guard);
  }

  delete(guard: StreamGuard): void {
    if (this.#open.delete(guard) && this.#open.size === 0) {
      const unsubscribe = this.#unsubscribe;
      this.#unsubscribe = undefined;
      unsubscribe?.();
    }
  }
}

/**
 * One guarded stream: the implementation's signal aborts with the call's or
 * when the store is lost. On the gRPC port that is the call's own signal
 * (the guard aborts the call); elsewhere a signal of its own, which follows
 * the call's. A class rather than closures (it is the signal's listener
 * itself): an open stream keeps it for its whole life.
 */
class StreamGuard implements StreamHooks {
  readonly #fn: AnyFn;
  readonly #request: unknown;
  readonly #ctx: HandlerContext;
  readonly #open: GuardedStreams;
  /** Only for a context that cannot abort its call. */
  #controller: AbortController | undefined;
  #started = false;

  constructor(fn: AnyFn, request: unknown, ctx: HandlerContext, open: GuardedStreams) {
    this.#fn = fn;
    this.#request = request;
    this.#ctx = ctx;
    this.#open = open;
  }

  /**
   * Refuses the stream while the store is unreachable; otherwise opens the
   * implementation's stream. Its signal is passed through, not raced per
   * message: every wait of an implementation races its signal, so the abort
   * ends the stream with that error.
   */
  start(): AsyncIterable<unknown> {
    return this.#fn(this.#request, this.#guarded()) as AsyncIterable<unknown>;
  }

  /** The implementation's context: the call's, or one with a signal of our own. */
  #guarded(): HandlerContext {
    if (!this.#open.available) {
      throw backendUnavailable("NOT_APPLIED");
    }
    const ctx = this.#ctx;
    this.#started = true;
    this.#open.add(this);
    if (abortable(ctx)) {
      return ctx;
    }
    const controller = (this.#controller = new AbortController());
    const signal = ctx.signal;
    signal.addEventListener("abort", this, { once: true });
    if (signal.aborted) {
      this.handleEvent();
    }
    return withSignal(ctx, controller.signal);
  }

  /** The store became unreachable. */
  lost(): void {
    const ctx = this.#ctx;
    if (this.#controller !== undefined) {
      this.#controller.abort(backendUnavailable());
    } else if (abortable(ctx)) {
      ctx.abortCall(backendUnavailable());
    }
  }

  /** The call's signal aborted (only with a signal of our own). */
  handleEvent(): void {
    this.#controller?.abort(this.#ctx.signal.reason);
  }

  finally(): void {
    if (this.#started) {
      this.#started = false;
      this.#open.delete(this);
      if (this.#controller !== undefined) {
        this.#ctx.signal.removeEventListener("abort", this);
      }
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
