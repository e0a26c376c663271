import type { Logger } from "pino";

/**
 * What the notifications need of a Redis client: sharded Pub/Sub (Redis 7).
 * A standalone `Redis` (a connection of its own: it enters subscriber mode)
 * or a `Cluster` with `shardedSubscribers: true`, which sends each
 * SSUBSCRIBE to the node owning the channel's slot.
 */
export interface ShardedSubscriber {
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  on(event: "smessage", listener: (channel: string, message: string) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  /** A `Cluster`'s sharded subscribers were made again for a new slot table (a failover, a resharding, a lost node). */
  on(event: "subscribersReady", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  disconnect(): void;
}

/**
 * The appending scripts' "look now" messages for the events this process
 * reads. Every append publishes the entry's id on the shard channel named
 * like the event's outbox stream (`<prefix>{<event>}:log`; see `log_entry` in
 * `common.lua`). A shard channel hashes like a key, so on Redis Cluster it
 * lives in the event's slot, is published by the script on the node that
 * owns that slot (no cross-slot access, no cluster-wide broadcast as with
 * PUBLISH) and is subscribed to there, one channel per followed event.
 *
 * Messages can be lost (the connection drops, a subscription is still on its
 * way): readers keep a slow poll beside them, and every (re)connection is
 * reported as a possible loss (`onLost`).
 */
export class OutboxNotifications {
  readonly #subscriber: ShardedSubscriber;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, () => void>();
  #onLost: () => void = () => undefined;
  #closed = false;

  constructor(subscriber: ShardedSubscriber, logger: Logger) {
    this.#subscriber = subscriber;
    this.#logger = logger;
    subscriber.on("smessage", (channel) => this.#listeners.get(channel)?.());
    // After a reconnection what was published meanwhile is lost, and a
    // subscription that failed while the connection was down was never made
    // (ioredis renews only those Redis had confirmed): subscribe to every
    // channel again (harmless for one already subscribed), then look.
    subscriber.on("ready", () => {
      for (const channel of this.#listeners.keys()) {
        this.#subscriber.ssubscribe(channel).catch(() => undefined);
      }
      this.#onLost();
    });
    // On a cluster, a failover or a resharding moves a channel's slot to another node: ioredis
    // notices when it refreshes the subscriber's slot table, makes a subscriber for each primary
    // again and subscribes it to its slots' channels, without waiting for the replies. What was
    // published on the new owner before that is lost, and a subscription that failed meanwhile
    // (sent to the old owner) is made then too. So each channel is subscribed again, and once
    // Redis has confirmed it, its event is looked at.
    subscriber.on("subscribersReady", () => {
      for (const [channel, listener] of this.#listeners) {
        this.#subscriber.ssubscribe(channel).then(listener, (err: unknown) => {
          // The next slot table change subscribes it again; the poll covers the event meanwhile.
          this.#logger.debug({ err, channel }, "outbox notifications: subscribe after a slot table change failed");
        });
      }
    });
    // Connection errors are the command connection's to report (the health monitor); the poll covers the gap.
    subscriber.on("error", (err) => this.#logger.debug({ err }, "outbox notifications: connection error"));
  }

  /** Called when messages may have been lost: look at every followed event. */
  set onLost(callback: () => void) {
    this.#onLost = callback;
  }

  /**
   * Calls `listener` at each message on `channel` from now on. `subscribed`
   * runs once Redis has confirmed the subscription: appends before that may
   * have gone unnoticed.
   */
  add(channel: string, listener: () => void, subscribed: () => void): void {
    if (this.#closed) {
      return;
    }
    this.#listeners.set(channel, listener);
    this.#subscriber.ssubscribe(channel).then(subscribed, (err: unknown) => {
      // The poll covers the event until the connection is back and ioredis subscribes again.
      this.#logger.warn({ err, channel }, "outbox notifications: subscribe failed");
    });
  }

  remove(channel: string): void {
    if (this.#listeners.delete(channel) && !this.#closed) {
      this.#subscriber.sunsubscribe(channel).catch((err: unknown) => {
        this.#logger.debug({ err, channel }, "outbox notifications: unsubscribe failed");
      });
    }
  }

  /** Ends the subscriptions: closes the connection (nothing is pending on it worth waiting for). */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#listeners.clear();
    this.#subscriber.disconnect();
  }
}
