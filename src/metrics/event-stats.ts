import type { ChainableCommander } from "ioredis";
import type { Logger } from "pino";
import type { FeedStore } from "../feed/feed-store.js";
import type { FeedGroupStats } from "../feed/types.js";
import { eventIndexKey } from "../queue/keys.js";
import type { QueueStore } from "../queue/queue-store.js";
import type { QueueStatsView } from "../queue/types.js";
import { StoredQueueState } from "../redis/outcomes.js";
import type { PipelineResults } from "../redis/pipeline-read.js";
import { isCluster, type RedisConnection } from "../redis/redis-cluster.js";
import { seatEventIndexKey } from "../seats/keys.js";
import type { SeatStore, SeatTotals } from "../seats/seat-store.js";
import { FailureLog } from "../util/failure-log.js";

/** Feed groups of one event whose progress is read (in name order); more are left out. */
export const FEED_GROUPS_PER_EVENT = 20;

/** What the refresher last read of one event. */
export interface EventSnapshot {
  /** Undefined when the event has no queue. */
  readonly queue: QueueStatsView | undefined;
  /** Undefined when the event has no seat map. */
  readonly seats: SeatTotals | undefined;
  /** Progress of its feed's groups (those known at the previous read, at most `FEED_GROUPS_PER_EVENT`). */
  readonly feed: readonly FeedGroupStats[];
  /** Every group of its feed, as of this read: the next read follows these. */
  readonly groupNames: readonly string[];
}

export interface EventStatsDeps {
  /**
   * The client the three stores run on: every read of a refresh goes in one
   * pipeline of it (one per event on a Redis Cluster, where each event's keys
   * share a slot and a pipeline may not cross slots).
   */
  readonly redis: RedisConnection;
  readonly keyPrefix: string;
  readonly queue: QueueStore;
  readonly seats: SeatStore;
  readonly feed: FeedStore;
  readonly logger: Logger;
}

export interface EventStatsOptions {
  /** Most events followed at once; also bounds the events read per refresh (this plus one). */
  readonly maxEvents: number;
  /** Pause between two refreshes. */
  readonly intervalMs: number;
}

/**
 * The per-event figures behind the event gauges, read in the background so
 * a scrape never waits on Redis and the Redis work does not grow with the
 * number of scrapers: each refresh is two round trips, the event indexes
 * (two SMEMBERS) and one pipeline with, per event read, the queue's stats
 * script, two plain reads of the seat totals, and the feed's stats scripts.
 *
 * At most `maxEvents` events are followed. Each refresh reads every followed
 * event and, in the room left (at least one), events not yet followed, in
 * turn; a live one joins if there is room, and otherwise counts as dropped.
 * An event stops being followed, and its series disappear, once it has
 * ended: its queue is CLOSED, it has neither queue nor seat map any more, or
 * it left both indexes.
 */
export class EventStats {
  readonly #deps: EventStatsDeps;
  readonly #options: EventStatsOptions;
  readonly #followed = new Map<string, EventSnapshot>();
  readonly #failures: FailureLog;
  /** Replies of single events that did not decode (the refresh itself went on). */
  readonly #eventFailures: FailureLog;
  /** The last event read in turn; the next turn starts after it. */
  #cursor = "";
  #dropped = 0;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: EventStatsDeps, options: EventStatsOptions) {
    if (!(Number.isSafeInteger(options.maxEvents) && options.maxEvents > 0)) {
      throw new RangeError(`maxEvents must be a positive integer, got ${options.maxEvents}`);
    }
    this.#deps = deps;
    this.#options = options;
    this.#failures = new FailureLog({
      logger: deps.logger,
      failed: "event metrics refresh failed",
      recovered: "event metrics refresh succeeds again",
    });
    this.#eventFailures = new FailureLog({
      logger: deps.logger,
      failed: "event metrics: an event's figures could not be read",
      recovered: "event metrics: every event's figures read again",
    });
  }

  /** The followed events and their latest figures. */
  get events(): ReadonlyMap<string, EventSnapshot> {
    return this.#followed;
  }

  /** Live events found when no room was left to follow them (counted each time one is found). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Refreshes at once (a `refresh()` call joins that first one), then every `intervalMs`. */
  start(): void {
    this.#stopped = false;
    this.#tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#refreshing?.catch(() => undefined);
  }

  /** One refresh (joins the one under way, if any); rejects if Redis fails. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  #tick(): void {
    this.refresh()
      .then(
        () => this.#failures.succeeded(),
        (err: unknown) => this.#failures.failed(err),
      )
      .finally(() => {
        if (!this.#stopped) {
          this.#timer = setTimeout(() => this.#tick(), this.#options.intervalMs);
          this.#timer.unref();
        }
      });
  }

  async #refresh(): Promise<void> {
    const { redis, keyPrefix } = this.#deps;
    const indexes = await Promise.all([redis.smembers(eventIndexKey(keyPrefix)), redis.smembers(seatEventIndexKey(keyPrefix))]);
    const known = new Set<string>();
    for (const ids of indexes) {
      for (const id of ids) known.add(id);
    }
    for (const id of this.#followed.keys()) {
      if (!known.has(id)) this.#followed.delete(id);
    }
    const turns = this.#turns(known);
    const ids = [...this.#followed.keys(), ...turns];
    if (ids.length === 0) {
      return;
    }
    const batches = isCluster(redis) ? ids.map((id) => [id]) : [ids];
    await Promise.all(
      batches.map(async (batch) => {
        const pipeline = redis.pipeline();
        const reads = batch.map((id) => this.#queueRead(pipeline, id));
        const results = await pipeline.exec();
        batch.forEach((id, i) => this.#keep(id, reads[i]!(results)));
      }),
    );
  }

  #keep(id: string, snapshot: EventSnapshot | undefined): void {
    if (snapshot === undefined || !isLive(snapshot)) {
      this.#followed.delete(id);
    } else if (this.#followed.has(id) || this.#followed.size < this.#options.maxEvents) {
      this.#followed.set(id, snapshot);
    } else {
      this.#dropped += 1;
    }
  }

  /** Events not followed to read this time, in id order after the last one read in turn, wrapping around. */
  #turns(known: ReadonlySet<string>): string[] {
    const waiting = [...known].filter((id) => !this.#followed.has(id)).sort();
    const count = Math.min(waiting.length, Math.max(1, this.#options.maxEvents - this.#followed.size));
    if (count === 0) {
      return [];
    }
    const from = waiting.findIndex((id) => id > this.#cursor);
    const start = from < 0 ? 0 : from;
    const turns = Array.from({ length: count }, (_, i) => waiting[(start + i) % waiting.length]!);
    this.#cursor = turns[turns.length - 1]!;
    return turns;
  }

  #queueRead(pipeline: ChainableCommander, id: string): (results: PipelineResults) => EventSnapshot | undefined {
    const { queue, seats, feed } = this.#deps;
    const groups = (this.#followed.get(id)?.groupNames ?? []).slice(0, FEED_GROUPS_PER_EVENT);
    const readQueue = queue.queueStats(pipeline, id);
    const readSeats = seats.queueTotals(pipeline, id);
    const readFeed = feed.queueStats(pipeline, id, groups);
    return (results) => {
      try {
        const stats = readQueue(results);
        const feedStats = readFeed(results);
        this.#eventFailures.succeeded();
        return {
          queue: stats.kind === "stats" ? stats.stats : undefined,
          seats: readSeats(results),
          feed: feedStats.groups,
          groupNames: feedStats.groupNames,
        };
      } catch (err) {
        // One event's bad reply must not blank every other event: it keeps its last figures.
        this.#eventFailures.failed(err);
        return this.#followed.get(id);
      }
    };
  }
}

/** An event is followed until its queue closes, or while it has a seat map and no queue. */
function isLive(snapshot: EventSnapshot): boolean {
  if (snapshot.queue !== undefined) {
    return snapshot.queue.config.state !== StoredQueueState.CLOSED;
  }
  return snapshot.seats !== undefined;
}
