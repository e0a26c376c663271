import type { OutboxConsumer, OutboxRead, OutboxReader } from "./outbox-reader.js";

/** What a tick does once its Redis calls have answered: local work only, so a throw there is a bug. True when another tick is due at once. */
export type Deliver = () => boolean | Promise<boolean>;

/**
 * The local watchers of one event and one kind (WatchPosition or
 * WatchAvailability), fed by the process's outbox reader: started by its
 * first watcher, ticking with the reader while anyone watches, stopped as
 * soon as the last watcher leaves. Subclasses say what a tick does with the
 * shared read and how their watchers fail.
 *
 * A tick has two halves: `step` makes its Redis calls and reads nothing
 * into the watchers, so when one of them fails the reader can run it again
 * (with the same entries) and the watchers keep their streams and places;
 * the `Deliver` it returns then applies what was read, once.
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
    const ticking = this.#tick(read);
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

  /**
   * One tick's Redis half: send this kind's commands before the first await,
   * then await them and `read`, changing no watcher; resolves with what
   * delivers the results. A rejection is a failed tick, run again later.
   */
  protected abstract step(read: Promise<OutboxRead>): Promise<Deliver>;

  /** The ticks kept failing past the reader's grace (Redis gone), or a tick hit a bug: every watcher must hear of it. */
  protected abstract fail(cause: unknown): void;

  /** A watcher arrived (the first one included). */
  protected added(_watcher: W): void {}

  /** A watcher left, however its stream ended. */
  protected removed(_watcher: W): void {}

  async #tick(read: Promise<OutboxRead>): Promise<boolean> {
    const deliver = await this.step(read);
    if (this.#stopped) {
      return false;
    }
    try {
      return await deliver();
    } catch (err) {
      // Part of the tick may be delivered: running it again could deliver it twice.
      this.failed(err);
      return false;
    }
  }

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
