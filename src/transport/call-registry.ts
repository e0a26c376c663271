import type { ConnectError } from "@connectrpc/connect";
import { shuttingDown } from "../rpc/errors.js";

/** Anything whose signal the registry can abort: a handler context, an AbortController. */
export interface Abortable {
  abort(reason?: unknown): void;
}

/**
 * The reason every call aborted by a shutdown sees in `ctx.signal.reason`, and
 * the error of calls refused while draining: UNAVAILABLE with ErrorInfo
 * SHUTTING_DOWN.
 */
export function shutdownError(): ConnectError {
  return shuttingDown();
}

/**
 * The calls a transport is serving right now, so a shutdown can end them.
 *
 * Why not one shared `shutdownSignal` linked into every call's context (as
 * connect does)? Node's `EventTarget` walks its listener list on every add and
 * remove, so with 50,000 open watch streams each new call would pay ~0.8 ms of
 * CPU just to subscribe to the shared signal. A `Set` costs O(1) per call.
 *
 * Streaming calls (anything but unary) are aborted as soon as draining starts;
 * unary calls only if the grace period runs out.
 */
export class CallRegistry {
  private readonly streams = new Set<Abortable>();
  private readonly unaries = new Set<Abortable>();
  private draining = false;
  private forced = false;

  /** True once `drain()` was called: new streaming calls should be refused. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Registers a call; aborts it at once if the server already stopped serving its kind. */
  enter(call: Abortable, streaming: boolean): void {
    if (this.forced || (streaming && this.draining)) {
      call.abort(shutdownError());
      return;
    }
    (streaming ? this.streams : this.unaries).add(call);
  }

  leave(call: Abortable, streaming: boolean): void {
    (streaming ? this.streams : this.unaries).delete(call);
  }

  /** Aborts every streaming call with UNAVAILABLE; unary calls carry on. */
  drain(): void {
    this.draining = true;
    abortAll(this.streams);
  }

  /** Aborts everything still running with UNAVAILABLE. */
  force(): void {
    this.draining = true;
    this.forced = true;
    abortAll(this.streams);
    abortAll(this.unaries);
  }
}

function abortAll(calls: Set<Abortable>): void {
  const snapshot = [...calls];
  calls.clear();
  for (const call of snapshot) {
    call.abort(shutdownError());
  }
}
