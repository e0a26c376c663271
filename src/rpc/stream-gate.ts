import type { DescMethod } from "@bufbuild/protobuf";
import { tooManyStreams } from "./errors.js";
import { hookedStream, type StreamHooks } from "./hooked-stream.js";
import { wrapMethods, type AnyMethodImpl, type ServiceRegistration } from "./registration.js";

/** How long a refused caller is told to wait before trying again. */
const RETRY_AFTER_MS = 1_000;

/**
 * The process-wide count of open long-lived streams (WatchPosition,
 * WatchAvailability, Subscribe) on both ports, and its cap. Every open
 * stream holds memory, a place in the watch hubs and a share of each tick;
 * past the cap a new stream is refused at once with RESOURCE_EXHAUSTED
 * (TOO_MANY_STREAMS) rather than slowing every stream already open.
 */
export class StreamGate {
  private count = 0;

  constructor(readonly limit: number) {}

  /** Streams open right now. */
  get open(): number {
    return this.count;
  }

  /** Takes a place, or throws TOO_MANY_STREAMS when none is left. */
  enter(): void {
    if (this.count >= this.limit) {
      throw tooManyStreams(this.limit, RETRY_AFTER_MS);
    }
    this.count++;
  }

  leave(): void {
    this.count--;
  }
}

/**
 * Every server-streaming method of the registration takes a place in `gate`
 * for as long as its stream is open; a stream refused by the gate never
 * reaches the implementation. Other methods pass through unchanged.
 *
 * Mount it inside the call policy, so a refused stream was authenticated
 * and validated first and its error is logged like any other.
 */
export function withStreamGate(reg: ServiceRegistration, gate: StreamGate): ServiceRegistration {
  return wrapMethods(reg, (method: DescMethod, fn: AnyMethodImpl) =>
    method.methodKind === "server_streaming" ? gated(fn, gate) : fn,
  );
}

function gated(fn: AnyMethodImpl, gate: StreamGate): AnyMethodImpl {
  return (request, ctx) => {
    const place = new GatePlace(gate);
    return hookedStream(() => {
      place.take();
      return fn(request, ctx) as AsyncIterable<unknown>;
    }, place);
  };
}

/** One stream's place in the gate, given back once however the stream ends (and only if it got one). */
class GatePlace implements StreamHooks {
  readonly #gate: StreamGate;
  #held = false;

  constructor(gate: StreamGate) {
    this.#gate = gate;
  }

  take(): void {
    this.#gate.enter();
    this.#held = true;
  }

  finally(): void {
    if (this.#held) {
      this.#held = false;
      this.#gate.leave();
    }
  }
}
