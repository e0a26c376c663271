import type { OutboxConsumer, OutboxRead, OutboxReader } from "./outbox-reader.js";

/**
 * The local watchers of one event and one kind (WatchPosition or
 * WatchAvailability), fed by the process's outbox reader: started by its
 * first watcher, ticking with the reader while anyone watches, stopped as
 * soon as the last watcher leaves. Subclasses say what a tick does with the
 * shared read and how their watchers fail.
 */
export abstract class WatchLoop<W> implements OutboxConsumer {
  readonly eventId: string;
  /** Watchers waiting to be read (their first snapshot, or again after a resync). */
  protected readonly pending = new Set<W>();
  /** Watchers that have had their snapshot and follow changes. */
  protected readonly live = new Set<W>();
  /** Resolves once the loop has stopped and its last tick has finished. */
  readonly done: Promise<void>;
  readonly #reader: OutboxReader;
  #onStopped: () => void = () => undefined;
  #stopped = false;
  #ticking: Promise<unknown> | undefined;
  #finished: () => void = () => undefined;

  constructor(eventId: string, reader: OutboxReader) {
    this.eventId = eventId;
    this.#reader = reader;
    this.done = new Promise<void>((resolve) => (this.#finished = resolve));
  }

  get size(): number {
    return this.live.size + this.pending.size;
  }

  /** Serves `first` and subscribes to the event's outbox; `onStopped` runs synchronously with the stop. */
  start(first: W, onStopped: () => void): void {
    this.#onStopped = onStopped;
    this.add(first);
    this.#reader.subscribe(this.eventId, this);
  }

  add(watcher: W): void {
    this.pending.add(watcher);
    this.added(watcher);
    this.#reader.wake(this.eventId);
  }

  remove(watcher: W): void {
    this.pending.delete(watcher);
    this.live.delete(watcher);
    this.removed(watcher);
    if (this.size === 0) {
      this.#stop();
    }
  }

  async tick(read: Promise<OutboxRead>): Promise<boolean> {
    if (this.#stopped) {
      // Unsubscribed while the reader was starting this tick.
      await read.catch(() => undefined);
      return false;
    }
    const ticking = this.step(read);
    this.#ticking = ticking;
    try {
      return await ticking;
    } finally {
      this.#ticking = undefined;
    }
  }

  failed(cause: unknown): void {
    this.fail(cause);
    this.pending.clear();
    this.live.clear();
    this.#stop();
  }

  /** One tick: send this kind's commands before the first await, then use `read`. True when another is due at once. */
  protected abstract step(read: Promise<OutboxRead>): Promise<boolean>;

  /** A tick threw (Redis gone, or a bug): every watcher must hear of it. */
  protected abstract fail(cause: unknown): void;

  /** A watcher arrived (the first one included). */
  protected added(_watcher: W): void {}

  /** A watcher left, however its stream ended. */
  protected removed(_watcher: W): void {}

  #stop(): void {
    if (this.#stopped) {
      return;
    }
    this.#stopped = true;
    this.#reader.unsubscribe(this.eventId, this);
    this.#onStopped();
    const last = this.#ticking ?? Promise.resolve();
    void last.then(this.#finished, this.#finished);
  }
}
