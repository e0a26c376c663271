import { AsyncResource } from "node:async_hooks";
import type { RedisConnection } from "../redis/redis-cluster.js";
import type { Logger } from "pino";
import { eventLogKey } from "../redis/event-log.js";
import { STREAM_START } from "../redis/outbox-entry.js";
import { newestId, readAfter, type OutboxRead } from "./outbox-stream.js";

export type { OutboxRead } from "./outbox-stream.js";

/** A local follower of one event's outbox: a watch loop. */
export interface OutboxConsumer {
  /**
   * One tick. The consumer sends its own commands for the tick before its
   * first `await` (they reach Redis before the outbox read, which the reader
   * sends after calling every consumer), then awaits `read`. Resolves true
   * when another tick is due at once. A rejection fails the consumer: the
   * reader unsubscribes it and calls `failed`.
   */
  tick(read: Promise<OutboxRead>): Promise<boolean>;
  failed(cause: unknown): void;
}

export interface OutboxReaderOptions {
  /** Prefix of every key (the event's stream is `<prefix>{<event>}:log`). */
  readonly keyPrefix: string;
  /** Pause between two reads of an event: the coalescing window of its watchers. */
  readonly intervalMs: number;
  /** Most entries one read applies; past that consumers resync. */
  readonly maxEntriesPerRead: number;
  readonly logger: Logger;
}

/** One event being read: its cursor, its consumers and whoever waits on it. */
interface Feed {
  readonly key: string;
  /** Id of the last entry read; undefined until the first tick has found the newest. */
  cursor: string | undefined;
  readonly consumers: Set<OutboxConsumer>;
  /** Callers of `changed`: resolved after a read that found something. */
  readonly changeWaiters: Set<() => void>;
  /** Callers of `ticked`, waiting for a tick that starts after their call. */
  tickWaiters: Array<() => void>;
  /** Ends the pause between two ticks early. */
  wake: (() => void) | undefined;
  /** Someone asked for a tick at once while one was running: the next starts without a pause. */
  woken: boolean;
  /** Resolves once the feed has stopped. */
  done: Promise<void>;
}

/**
 * The process's one reader of the event outboxes. For each event with at
 * least one local consumer (the WatchPosition loop, the WatchAvailability
 * loop, a caller of `changed`) it reads the event's stream once per tick,
 * after its cursor and bounded, and hands the same parsed entries to every
 * consumer. So the Redis work per event and tick is one XRANGE plus the
 * consumers' own script, however many streams watch the event.
 */
export class OutboxReader {
  readonly #redis: RedisConnection;
  readonly #options: OutboxReaderOptions;
  /**
   * Starts an event's loop in the async context the reader was built in, not
   * in that of the caller that happened to ask first: the loop serves every
   * stream of the event, so its scripts belong to none of their traces.
   */
  readonly #start = AsyncResource.bind((eventId: string, feed: Feed): Promise<void> => this.#run(eventId, feed));
  readonly #feeds = new Map<string, Feed>();
  #closed = false;

  constructor(redis: RedisConnection, options: OutboxReaderOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** Events being read. */
  get eventsRead(): number {
    return this.#feeds.size;
  }

  /**
   * Stops reading: every consumer fails (its streams end UNAVAILABLE), every
   * caller of `changed` is released, and the promise resolves once no read
   * is in flight, so Redis can be closed after it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const stopping: Array<Promise<void>> = [];
    for (const [eventId, feed] of this.#feeds) {
      for (const consumer of [...feed.consumers]) {
        this.#fail(eventId, consumer, new Error("the outbox reader was closed"));
      }
      feed.changeWaiters.forEach((resolve) => resolve());
      feed.changeWaiters.clear();
      feed.wake?.();
      stopping.push(feed.done);
    }
    await Promise.all(stopping);
  }

  /** Starts feeding `consumer` the event's entries; its first tick runs at once. */
  subscribe(eventId: string, consumer: OutboxConsumer): void {
    if (this.#closed) {
      consumer.failed(new Error("the outbox reader was closed"));
      return;
    }
    this.#feed(eventId).consumers.add(consumer);
    this.wake(eventId);
  }

  /** Stops feeding `consumer`; a tick it is in finishes. The event is read no more once nobody follows it. */
  unsubscribe(eventId: string, consumer: OutboxConsumer): void {
    const feed = this.#feeds.get(eventId);
    if (feed?.consumers.delete(consumer) && feed.consumers.size === 0) {
      feed.wake?.();
    }
  }

  /** Runs the event's next tick now instead of after the pause (new watchers are waiting). */
  wake(eventId: string): void {
    const feed = this.#feeds.get(eventId);
    if (feed) {
      feed.woken = true;
      feed.wake?.();
    }
  }

  /**
   * Resolves after the next read of the event that found new entries (or a
   * resync); rejects with `signal.reason` once it aborts. The event is read
   * while anyone waits, with or without watchers: what a change feed waits
   * on (`OutboxSignal.wait`) to learn that its consumer group has work.
   */
  async changed(eventId: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#closed) {
      return;
    }
    const feed = this.#feed(eventId);
    let onAbort = (): void => undefined;
    let waiter = (): void => undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = resolve;
        onAbort = () => reject(signal.reason);
        feed.changeWaiters.add(waiter);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      feed.changeWaiters.delete(waiter);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Resolves once a tick of the event that starts after this call has finished (at once if it is not read). */
  ticked(eventId: string): Promise<void> {
    const feed = this.#feeds.get(eventId);
    return feed ? new Promise<void>((resolve) => feed.tickWaiters.push(resolve)) : Promise.resolve();
  }

  #feed(eventId: string): Feed {
    let feed = this.#feeds.get(eventId);
    if (!feed) {
      feed = {
        key: eventLogKey(this.#options.keyPrefix, eventId),
        cursor: undefined,
        consumers: new Set(),
        changeWaiters: new Set(),
        tickWaiters: [],
        wake: undefined,
        woken: false,
        done: Promise.resolve(),
      };
      this.#feeds.set(eventId, feed);
      feed.done = this.#start(eventId, feed);
    }
    return feed;
  }

  async #run(eventId: string, feed: Feed): Promise<void> {
    // The first tick waits for the turn of the event loop in which the feed was asked for, so its subscriber is in.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (feed.consumers.size > 0 || feed.changeWaiters.size > 0) {
        const waiters = feed.tickWaiters;
        feed.tickWaiters = [];
        feed.woken = false;
        let again = false;
        try {
          again = await this.#tick(eventId, feed);
        } catch (err) {
          // Its consumers have failed; whoever waits in `changed` waits for a read that works.
          this.#options.logger.error({ err, eventId }, "outbox read failed");
        } finally {
          waiters.forEach((resolve) => resolve());
        }
        if (feed.consumers.size > 0 || feed.changeWaiters.size > 0) {
          // Back to back or after the pause, the next tick starts on a turn of
          // its own: sockets and callers (of `ticked` too) run first.
          await (again || feed.woken ? new Promise<void>((resolve) => setImmediate(resolve)) : this.#pause(feed));
        }
      }
    } finally {
      // Synchronous with the last check: nobody can subscribe in between.
      this.#feeds.delete(eventId);
      feed.tickWaiters.forEach((resolve) => resolve());
    }
  }

  /** One tick: every consumer's own commands, then the read they all share. True when one asked for more at once. */
  async #tick(eventId: string, feed: Feed): Promise<boolean> {
    const consumers = [...feed.consumers];
    if (feed.cursor === undefined) {
      // Before any consumer's own reads: they must not predate the cursor.
      try {
        feed.cursor = await newestId(this.#redis, feed.key);
      } catch (err) {
        consumers.forEach((consumer) => this.#fail(eventId, consumer, err));
        throw err;
      }
    }
    let settle: { resolve: (read: OutboxRead) => void; reject: (err: unknown) => void } | undefined;
    const read = new Promise<OutboxRead>((resolve, reject) => (settle = { resolve, reject }));
    read.catch(() => undefined);
    const ticks = consumers.map((consumer) => consumer.tick(read));
    let failure: { err: unknown } | undefined;
    try {
      const result = await readAfter(this.#redis, feed.key, feed.cursor ?? STREAM_START, this.#options.maxEntriesPerRead);
      feed.cursor = result.cursor;
      settle?.resolve(result);
      if (result.kind === "resync" || result.entries.length > 0) {
        for (const resolve of feed.changeWaiters) resolve();
        feed.changeWaiters.clear();
      }
    } catch (err) {
      settle?.reject(err);
      failure = { err };
    }
    const outcomes = await Promise.allSettled(ticks);
    let again = false;
    outcomes.forEach((outcome, i) => {
      const consumer = consumers[i] as OutboxConsumer;
      if (outcome.status === "fulfilled") {
        again ||= outcome.value;
      } else {
        this.#fail(eventId, consumer, outcome.reason);
      }
    });
    if (failure) {
      throw failure.err;
    }
    return again;
  }

  #fail(eventId: string, consumer: OutboxConsumer, cause: unknown): void {
    this.unsubscribe(eventId, consumer);
    consumer.failed(cause);
  }

  #pause(feed: Feed): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#options.intervalMs);
      function done(): void {
        clearTimeout(timer);
        feed.wake = undefined;
        resolve();
      }
      feed.wake = done;
    });
  }
}
