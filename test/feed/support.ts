import type { Client } from "@connectrpc/connect";
import type { Redis } from "ioredis";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ChangeFeedService, type ChangeEvent, type SubscribeRequestSchema } from "../../gen/boxoffice/v1/feed_pb.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { startServer, type RunningServer } from "../e2e/server.js";

export type FeedClient = Client<typeof ChangeFeedService>;

/**
 * The app for feed tests: a short visibility timeout and no backoff unless a
 * test asks, quick polling. Tests move the feed's clock with `advance`
 * rather than waiting for timeouts to pass.
 */
export function startFeedServer(env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer({
    FEED_VISIBILITY_TIMEOUT_MS: "10000",
    FEED_RETRY_BACKOFF: "fixed",
    FEED_RETRY_BASE_MS: "0",
    FEED_POLL_MS: "20",
    ...env,
  });
}

/** Appends `count` contract-shaped `queue.joined` entries to the event's outbox; returns their ids. */
export async function appendJoins(server: RunningServer, eventId: string, count: number, from = 1): Promise<string[]> {
  const key = eventLogKey(server.app.config.redisKeyPrefix, eventId);
  const pipeline = server.redis.pipeline();
  for (let i = 0; i < count; i++) {
    pipeline.xadd(key, "*", "type", "queue.joined", "user", `u${from + i}`, "seq", String(from + i));
  }
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, id]) => {
    if (error) throw error;
    return id as string;
  });
}

export function logKey(server: RunningServer, eventId: string): string {
  return eventLogKey(server.app.config.redisKeyPrefix, eventId);
}

/**
 * One Subscribe stream read in the background: batches are collected as they
 * arrive, and `take(n)` resolves once n more events have come (bounded by
 * the test's own timeout, never by a sleep).
 */
export class Subscriber {
  readonly received: ChangeEvent[] = [];
  readonly batches: number[] = [];
  readonly controller = new AbortController();
  /** Settles when the stream ends: undefined for a clean end, else the error. */
  readonly ended: Promise<unknown>;
  #taken = 0;
  #waiters: Array<() => void> = [];

  constructor(client: FeedClient, request: MessageInitShape<typeof SubscribeRequestSchema>) {
    this.ended = (async () => {
      try {
        for await (const response of client.subscribe(request, { signal: this.controller.signal })) {
          this.batches.push(response.events.length);
          this.received.push(...response.events);
          for (const wake of this.#waiters.splice(0)) wake();
        }
        return undefined;
      } catch (error) {
        return error;
      } finally {
        for (const wake of this.#waiters.splice(0)) wake();
      }
    })();
  }

  /** The next `n` events after those already taken. */
  async take(n: number): Promise<ChangeEvent[]> {
    let done = false;
    void this.ended.then(() => (done = true));
    while (this.received.length < this.#taken + n) {
      if (done) throw new Error(`stream ended after ${this.received.length} events, wanted ${this.#taken + n}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        void this.ended.then(() => resolve());
      });
      await Promise.resolve();
    }
    const events = this.received.slice(this.#taken, this.#taken + n);
    this.#taken += n;
    return events;
  }

  async cancel(): Promise<void> {
    this.controller.abort();
    await this.ended;
  }
}

export async function pendingOf(redis: Redis, key: string, group: string): Promise<number> {
  const summary = (await redis.xpending(key, group)) as [number, ...unknown[]];
  return summary[0];
}
