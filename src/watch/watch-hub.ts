import type { Mailbox } from "./mailbox.js";
import type { OutboxReader } from "./outbox-reader.js";
import type { WatchLoop } from "./watch-loop.js";
import { WatchStream, type WatchRegistration } from "./watch-stream.js";

/** What makes a kind of watch: its streams' mailboxes and its per-event loop. */
export interface WatchKind<W extends Mailbox<Item>, Item, Arg> {
  /** The mailbox of one new stream, bound to its abort signal. */
  watcher(arg: Arg, signal: AbortSignal): W;
  /** The loop serving one event's streams of this kind. */
  loop(eventId: string, reader: OutboxReader): WatchLoop<W>;
}

/**
 * The process-wide fan-out of one kind of watch: one loop per event with
 * local streams, started by the first stream and stopped after the last, all
 * fed by the process's one outbox reader.
 */
export class WatchHub<W extends Mailbox<Item>, Item, Arg> {
  readonly #reader: OutboxReader;
  readonly #kind: WatchKind<W, Item, Arg>;
  readonly #loops = new Map<string, WatchLoop<W>>();

  constructor(reader: OutboxReader, kind: WatchKind<W, Item, Arg>) {
    this.#reader = reader;
    this.#kind = kind;
  }

  /** Events with a running loop. */
  get eventsWatched(): number {
    return this.#loops.size;
  }

  /** Streams of this process open on the event. */
  streams(eventId: string): number {
    return this.#loops.get(eventId)?.size ?? 0;
  }

  /** Resolves once the event's loop has stopped (at once if none runs). */
  async stopped(eventId: string): Promise<void> {
    await this.#loops.get(eventId)?.done;
  }

  /** Resolves once a tick of the event that starts after this call has finished (at once if nobody watches it). */
  async ticked(eventId: string): Promise<void> {
    if (this.#loops.has(eventId)) {
      await this.#reader.ticked(eventId);
    }
  }

  /**
   * Streams one watch: the current state first, then its changes, ending
   * after a final item. Rejects with `signal.reason` once the signal aborts;
   * the stream leaves its loop in every case.
   */
  watch(eventId: string, arg: Arg, signal: AbortSignal): AsyncGenerator<Item, undefined> {
    return this.stream(eventId, arg, signal, (item) => item);
  }

  /** `watch` with each item mapped as the stream takes it (what a service sends); a throwing `map` ends the stream. */
  stream<Out>(eventId: string, arg: Arg, signal: AbortSignal, map: (item: Item) => Out): AsyncGenerator<Out, undefined> {
    return new WatchStream<Item, Out>(new HubRegistration<W, Item, Arg>(this, eventId, arg, signal), map, signal);
  }

  /** A new watcher of `arg` on the event, in the event's loop (started if none runs). */
  open(eventId: string, arg: Arg, signal: AbortSignal): { watcher: W; loop: WatchLoop<W> } {
    const watcher = this.#kind.watcher(arg, signal);
    return { watcher, loop: this.#register(eventId, watcher) };
  }

  #register(eventId: string, watcher: W): WatchLoop<W> {
    const running = this.#loops.get(eventId);
    if (running) {
      running.add(watcher);
      return running;
    }
    const loop = this.#kind.loop(eventId, this.#reader);
    this.#loops.set(eventId, loop);
    loop.start(watcher, () => {
      if (this.#loops.get(eventId) === loop) {
        this.#loops.delete(eventId);
      }
    });
    return loop;
  }
}

/** One stream's watcher in a hub: registered at the stream's first step, removed when it ends. */
class HubRegistration<W extends Mailbox<Item>, Item, Arg> implements WatchRegistration<Item> {
  readonly #hub: WatchHub<W, Item, Arg>;
  readonly #eventId: string;
  readonly #arg: Arg;
  readonly #signal: AbortSignal;
  #loop: WatchLoop<W> | undefined;

  constructor(hub: WatchHub<W, Item, Arg>, eventId: string, arg: Arg, signal: AbortSignal) {
    this.#hub = hub;
    this.#eventId = eventId;
    this.#arg = arg;
    this.#signal = signal;
  }

  open(): W {
    const { watcher, loop } = this.#hub.open(this.#eventId, this.#arg, this.#signal);
    this.#loop = loop;
    return watcher;
  }

  close(watcher: Mailbox<Item>): void {
    this.#loop?.remove(watcher as W);
    (watcher as W).dispose();
  }
}
