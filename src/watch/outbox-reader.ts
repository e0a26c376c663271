import { AsyncResource } from "node:async_hooks";
import type { RedisConnection } from "../redis/redis-cluster.js";
import type { Logger } from "pino";
import { eventLogKey } from "../redis/event-log.js";
import { STREAM_START } from "../redis/outbox-entry.js";
import { OutboxFollower, type OutboxFollow } from "./outbox-follower.js";
import type { OutboxNotifications } from "./outbox-notifications.js";
import { newestId, readAfter, type OutboxRead } from "./outbox-stream.js";
import { joinReads, retryPauseMs, type FailingConsumer } from "./tick-retry.js";

export type { OutboxFollow } from "./outbox-follower.js";

/**
 * Default least time between two looks of a notified feed subscription: at
 * 2,000 appends a second, 4 subscriptions of one event make 400 delivery
 * steps a second instead of one per append each.
 */
const DEFAULT_FOLLOW_GAP_MS = 10;

export type { OutboxRead } from "./outbox-stream.js";

/** A local follower of one event's outbox: a watch loop. */
export interface OutboxConsumer {
  /**
   * One tick. The consumer sends its own commands for the tick before its
   * first `await` (they reach Redis before the outbox read, which the reader
   * sends after calling every consumer), then awaits `read`. Resolves true
   * when another tick is due at once.
   *
   * A rejection says the tick's Redis calls (or the read) failed and the
   * consumer applied nothing of it: the reader tries again after a backoff,
   * handing the entries of the failed tick again ahead of the next read's.
   * Once its ticks have failed for `retryGraceMs`, the reader unsubscribes
   * it and calls `failed`. (A consumer that cannot go on, a bug, ends itself
   * and unsubscribes.)
   */
  tick(read: Promise<OutboxRead>): Promise<boolean>;
  failed(cause: unknown): void;
}

export interface OutboxReaderOptions {
  /** Prefix of every key (the event's stream is `<prefix>{<event>}:log`). */
  readonly keyPrefix: string;
  /**
   * Pause between two reads of an event: the coalescing window of its
   * watchers, and the safety poll when notifications are lost. After a read
   * that found nothing, a notification ends the pause at once.
   */
  readonly intervalMs: number;
  /** Most entries one read applies; past that consumers resync. */
  readonly maxEntriesPerRead: number;
  readonly logger: Logger;
  /**
   * The appending scripts' notifications (a connection of its own): without
   * them the reader only polls. The reader closes them in `close`.
   */
  readonly notifications?: OutboxNotifications;
  /** Least time between two looks of a change feed subscription woken by notifications (`follow`); default 10 ms. */
  readonly followGapMs?: number;
  /**
   * How long a consumer's ticks may keep failing (a read or a script timed
   * out, Redis answered an error) before it fails for good; meanwhile it
   * keeps its watchers and the tick is tried again with a backoff (from
   * `intervalMs`, doubling, at most 2 s). Default 0: the first failure is
   * final. A Redis that is really gone ends the streams sooner, through the
   * health monitor (see `withBackendGuard`).
   */
  readonly retryGraceMs?: number;
}

/** One event being read: its cursor, its consumers and whoever waits on it. */
interface Feed {
  readonly key: string;
  /** Id of the last entry read; undefined until the first tick has found the newest. */
  cursor: string | undefined;
  readonly consumers: Set<OutboxConsumer>;
  /** Change feed subscriptions following the event's notifications (see `follow`). */
  readonly followers: Set<OutboxFollower>;
  /** Whether the tick loop runs (it does while there are consumers or callers of `changed`). */
  running: boolean;
  /** A notification came since the current (or last) tick started. */
  signalled: boolean;
  /** The last tick found nothing new: a notification ends the pause. */
  quiet: boolean;
  /** Callers of `changed`: resolved after a read that found something. */
  readonly changeWaiters: Set<() => void>;
  /** Callers of `ticked`, waiting for a tick that starts after their call. */
  tickWaiters: Array<() => void>;
  /** Ends the pause between two ticks early. */
  wake: (() => void) | undefined;
  /** Someone asked for a tick at once while one was running: the next starts without a pause. */
  woken: boolean;
  /** Consumers whose last ticks failed, with what they have not applied. */
  readonly failing: Map<OutboxConsumer, FailingConsumer>;
  /** Ticks in a row that failed for some consumer: sets the backoff. */
  failures: number;
  /** The pause is a backoff after a failed tick: notifications and new watchers do not end it. */
  backingOff: boolean;
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
 *
 * The appending scripts publish a notification per call (see
 * `OutboxNotifications`): it wakes the event's change feed subscriptions
 * (`follow`) and callers of `changed` at once, and starts the next read at
 * once when the last one found nothing (a first change after a quiet spell is
 * read within a round trip; a busy event is still read once per interval).
 */
export class OutboxReader {
  readonly #redis: RedisConnection;
  readonly #options: OutboxReaderOptions;
  /**
   * Starts an event's loop in the async context the reader was built in, not
   * in that of the caller that happened to ask first: the loop serves every
   * stream of the event, so its scripts belong to none of their traces.
   */
  readonly #runBound = AsyncResource.bind((eventId: string, feed: Feed): Promise<void> => this.#run(eventId, feed));
  readonly #feeds = new Map<string, Feed>();
  /** Feeds by their stream key, which is also their notification channel. */
  readonly #byKey = new Map<string, Feed>();
  #closed = false;

  constructor(redis: RedisConnection, options: OutboxReaderOptions) {
    this.#redis = redis;
    this.#options = options;
    if (options.notifications) {
      options.notifications.onLost = () => this.#byKey.forEach((feed) => this.#signal(feed));
    }
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
      feed.followers.forEach((follower) => follower.signal());
      for (const consumer of [...feed.consumers]) {
        this.#fail(eventId, consumer, new Error("the outbox reader was closed"));
      }
      feed.changeWaiters.forEach((resolve) => resolve());
      feed.changeWaiters.clear();
      feed.wake?.();
      stopping.push(feed.done);
    }
    await Promise.all(stopping);
    this.#options.notifications?.close();
  }

  /** Starts feeding `consumer` the event's entries; its first tick runs at once. */
  subscribe(eventId: string, consumer: OutboxConsumer): void {
    if (this.#closed) {
      consumer.failed(new Error("the outbox reader was closed"));
      return;
    }
    const feed = this.#feed(eventId);
    feed.consumers.add(consumer);
    this.#start(eventId, feed);
    this.wake(eventId);
  }

  /** Stops feeding `consumer`; a tick it is in finishes. The event is read no more once nobody follows it. */
  unsubscribe(eventId: string, consumer: OutboxConsumer): void {
    const feed = this.#feeds.get(eventId);
    feed?.failing.delete(consumer);
    if (feed?.consumers.delete(consumer) && feed.consumers.size === 0) {
      feed.wake?.();
    }
  }

  /** Runs the event's next tick now instead of after the pause (new watchers are waiting). */
  wake(eventId: string): void {
    const feed = this.#feeds.get(eventId);
    if (feed) {
      feed.woken = true;
      if (!feed.backingOff) {
        feed.wake?.();
      }
    }
  }

  /**
   * Follows the event's notifications for a change feed subscription: its
   * `wait` resolves at the first notification since the previous `wait`
   * returned (none is lost between two waits; at least `followGapMs` after
   * that return), or after `pollMs`, the safety
   * poll that also finds entries come due for redelivery. No read of the
   * stream is made for it: the subscription's own delivery step reads.
   * `close` when the subscription ends.
   */
  follow(eventId: string, pollMs: number): OutboxFollow {
    if (this.#closed) {
      return new OutboxFollower(pollMs, 0, () => undefined);
    }
    const feed = this.#feed(eventId);
    const follower: OutboxFollower = new OutboxFollower(pollMs, this.#options.followGapMs ?? DEFAULT_FOLLOW_GAP_MS, () => {
      feed.followers.delete(follower);
      this.#release(eventId, feed);
    });
    feed.followers.add(follower);
    return follower;
  }

  /**
   * Resolves after the next read of the event that found new entries (or a
   * resync), or at a notification of an append; rejects with `signal.reason`
   * once it aborts. The event is read while anyone waits, with or without
   * watchers.
   */
  async changed(eventId: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#closed) {
      return;
    }
    const feed = this.#feed(eventId);
    this.#start(eventId, feed);
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

  /** The event's feed, made (and its notifications followed) if new; nothing runs until `#start`. */
  #feed(eventId: string): Feed {
    let feed = this.#feeds.get(eventId);
    if (!feed) {
      const created: Feed = {
        key: eventLogKey(this.#options.keyPrefix, eventId),
        cursor: undefined,
        consumers: new Set(),
        followers: new Set(),
        running: false,
        signalled: false,
        quiet: false,
        changeWaiters: new Set(),
        tickWaiters: [],
        wake: undefined,
        woken: false,
        failing: new Map(),
        failures: 0,
        backingOff: false,
        done: Promise.resolve(),
      };
      feed = created;
      this.#feeds.set(eventId, feed);
      this.#byKey.set(feed.key, feed);
      // Until Redis confirms the subscription an append may have gone unnoticed: look once it has.
      this.#options.notifications?.add(
        feed.key,
        () => this.#signal(created),
        () => this.#signal(created),
      );
    }
    return feed;
  }

  /** Starts the event's tick loop unless it runs. */
  #start(eventId: string, feed: Feed): void {
    if (!feed.running) {
      feed.running = true;
      // A feed kept by its followers alone has a stale cursor: new consumers start at the newest entry.
      feed.cursor = undefined;
      feed.done = this.#runBound(eventId, feed);
    }
  }

  /** Forgets the event once nothing runs for it and nobody follows it. */
  #release(eventId: string, feed: Feed): void {
    if (!feed.running && feed.followers.size === 0 && this.#feeds.get(eventId) === feed) {
      this.#feeds.delete(eventId);
      this.#byKey.delete(feed.key);
      this.#options.notifications?.remove(feed.key);
    }
  }

  /** A notification (or a possible loss of one): wake whoever waits on the event. */
  #signal(feed: Feed): void {
    feed.followers.forEach((follower) => follower.signal());
    if (feed.changeWaiters.size > 0) {
      feed.changeWaiters.forEach((resolve) => resolve());
      feed.changeWaiters.clear();
    }
    feed.signalled = true;
    if (feed.quiet && !feed.backingOff) {
      feed.wake?.();
    }
  }

  async #run(eventId: string, feed: Feed): Promise<void> {
    // The first tick waits for the turn of the event loop in which the feed was asked for, so its subscriber is in.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (feed.consumers.size > 0 || feed.changeWaiters.size > 0) {
        const waiters = feed.tickWaiters;
        feed.tickWaiters = [];
        feed.woken = false;
        feed.signalled = false;
        feed.quiet = false;
        let again = false;
        let failed = true;
        try {
          ({ again, failed } = await this.#tick(eventId, feed));
        } catch (err) {
          // A bug: whoever waits in `changed` waits for a read that works.
          this.#options.logger.error({ err, eventId }, "outbox read failed");
        } finally {
          waiters.forEach((resolve) => resolve());
        }
        feed.failures = failed ? feed.failures + 1 : 0;
        if (feed.consumers.size > 0 || feed.changeWaiters.size > 0) {
          // Back to back or after the pause, the next tick starts on a turn of
          // its own: sockets and callers (of `ticked` too) run first. A
          // notification during a tick that found nothing may be of an entry
          // the read missed: no pause then. After a failure, the backoff.
          const now = !failed && (again || feed.woken || (feed.quiet && feed.signalled));
          const pauseMs = failed ? retryPauseMs(this.#options.intervalMs, feed.failures) : this.#options.intervalMs;
          await (now ? new Promise<void>((resolve) => setImmediate(resolve)) : this.#pause(feed, pauseMs, failed));
        }
      }
    } finally {
      // Synchronous with the last check: nobody can subscribe in between.
      feed.running = false;
      this.#release(eventId, feed);
      feed.tickWaiters.forEach((resolve) => resolve());
    }
  }

  /**
   * One tick: every consumer's own commands, then the read they all share.
   * `again` when one asked for more at once; `failed` when the read or some
   * consumer's tick failed (the cursor moves only when the read worked).
   */
  async #tick(eventId: string, feed: Feed): Promise<{ again: boolean; failed: boolean }> {
    const consumers = [...feed.consumers];
    if (feed.cursor === undefined) {
      // Before any consumer's own reads: they must not predate the cursor.
      try {
        feed.cursor = await newestId(this.#redis, feed.key);
      } catch (err) {
        consumers.forEach((consumer) => this.#tickFailed(eventId, feed, consumer, err, undefined));
        return { again: false, failed: true };
      }
    }
    let settle: { resolve: (read: OutboxRead) => void; reject: (err: unknown) => void } | undefined;
    const read = new Promise<OutboxRead>((resolve, reject) => (settle = { resolve, reject }));
    read.catch(() => undefined);
    const ticks = consumers.map((consumer) => consumer.tick(this.#readFor(feed, consumer, read)));
    let result: OutboxRead | undefined;
    try {
      result = await readAfter(this.#redis, feed.key, feed.cursor ?? STREAM_START, this.#options.maxEntriesPerRead);
      feed.cursor = result.cursor;
      settle?.resolve(result);
      if (result.kind === "resync" || result.entries.length > 0) {
        for (const resolve of feed.changeWaiters) resolve();
        feed.changeWaiters.clear();
      } else {
        feed.quiet = true;
      }
    } catch (err) {
      settle?.reject(err);
    }
    const outcomes = await Promise.allSettled(ticks);
    let again = false;
    let failed = result === undefined;
    outcomes.forEach((outcome, i) => {
      const consumer = consumers[i] as OutboxConsumer;
      if (outcome.status === "fulfilled") {
        again ||= outcome.value;
        this.#tickWorked(eventId, feed, consumer);
      } else {
        failed = true;
        this.#tickFailed(eventId, feed, consumer, outcome.reason, result);
      }
    });
    return { again, failed };
  }

  /** The read a consumer gets: the shared one, behind what its failed ticks did not apply. */
  #readFor(feed: Feed, consumer: OutboxConsumer, read: Promise<OutboxRead>): Promise<OutboxRead> {
    const carried = feed.failing.get(consumer)?.carried;
    if (carried === undefined) {
      return read;
    }
    const joined = read.then((later) => joinReads(carried, later, this.#options.maxEntriesPerRead));
    joined.catch(() => undefined);
    return joined;
  }

  /** A consumer's tick failed: it keeps what it did not apply and is tried again, unless it has been failing for the grace. */
  #tickFailed(eventId: string, feed: Feed, consumer: OutboxConsumer, cause: unknown, read: OutboxRead | undefined): void {
    if (!feed.consumers.has(consumer)) {
      // It left during the tick (its last watcher went): nothing to keep.
      return;
    }
    const now = Date.now();
    let failing = feed.failing.get(consumer);
    if (failing === undefined) {
      failing = { since: now, attempts: 0, carried: undefined };
      feed.failing.set(consumer, failing);
    }
    failing.attempts++;
    if (read !== undefined) {
      failing.carried = joinReads(failing.carried, read, this.#options.maxEntriesPerRead);
    }
    const graceMs = this.#options.retryGraceMs ?? 0;
    if (this.#closed || now - failing.since >= graceMs) {
      this.#fail(eventId, consumer, cause);
    } else if (failing.attempts === 1) {
      this.#options.logger.warn({ err: cause, eventId, graceMs }, "watch tick failed, retrying");
    }
  }

  #tickWorked(eventId: string, feed: Feed, consumer: OutboxConsumer): void {
    const failing = feed.failing.get(consumer);
    if (failing !== undefined) {
      feed.failing.delete(consumer);
      this.#options.logger.info({ eventId, failedForMs: Date.now() - failing.since, attempts: failing.attempts }, "watch tick recovered");
    }
  }

  #fail(eventId: string, consumer: OutboxConsumer, cause: unknown): void {
    this.unsubscribe(eventId, consumer);
    consumer.failed(cause);
  }

  /** Waits `ms`, or until woken; a backoff is woken only when the feed stops (no consumers left, or `close`). */
  #pause(feed: Feed, ms: number, backoff: boolean): Promise<void> {
    feed.backingOff = backoff;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        feed.wake = undefined;
        feed.backingOff = false;
        resolve();
      }
      feed.wake = done;
    });
  }
}
