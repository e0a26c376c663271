import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { reconnectDelayMs, type ReconnectBackoff } from "./backoff.js";
import { instancePicker, type InstanceChoice } from "./instances.js";
import type { ChangeEvent, ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";


type FeedClient = Client<typeof ChangeFeedService>;

/**
 * Where to subscribe and acknowledge: one client, several (one per server
 * instance) taken in turn after each broken stream, or a factory given the
 * connection number (0, 1, …) and called once per (re)subscription.
 */
export type FeedClientChoice = InstanceChoice<FeedClient>;

export interface ConsumeOptions {
  /**
   * The instance(s) to use. Acknowledgements go to the instance of the
   * current subscription: any instance acknowledges for the whole group, so
   * acks still due when a server goes away are sent to the next one.
   */
  readonly client: FeedClientChoice;
  readonly eventId: string;
  readonly group: string;
  /** This process's name within the group; reconnecting under the same name gets its unacknowledged entries back. */
  readonly consumer: string;
  /** Change types to receive; empty or absent = all. */
  readonly types?: readonly string[];
  /** Where the group starts if this call creates it (default: new changes only). */
  readonly start?: SubscribeStart;
  /**
   * Processes one change. Resolving acknowledges it; throwing leaves it
   * unacknowledged, so the server delivers it again after its visibility
   * timeout and backoff, and dead-letters it after the maximum deliveries.
   * Must be idempotent: delivery is at least once (`event.id` is the key).
   */
  readonly handler: (event: ChangeEvent) => Promise<void> | void;
  /** Handlers running at once (default 1). */
  readonly concurrency?: number;
  /** Most unacknowledged entries the server hands this consumer (default 100). */
  readonly maxInFlight?: number;
  /** Stops consuming: reading ends, running handlers finish and their acks are sent. */
  readonly signal: AbortSignal;
  readonly backoff?: ReconnectBackoff;
  /** Hears stream failures that lead to a reconnect, and handler failures. */
  readonly onError?: (error: unknown, context: { readonly event?: ChangeEvent }) => void;
}

/** Codes after which subscribing again cannot help: the request or the caller is wrong. */
const FATAL = new Set([Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated, Code.Unimplemented]);

/**
 * Consumes an event's change feed for one consumer of a group: subscribes,
 * runs `handler` per change with bounded concurrency, acknowledges successes
 * in batches, and on a broken stream (the server shutting down, a network
 * failure) subscribes again after a backoff. Resolves once `signal` aborts
 * and the handlers then running have finished and been acknowledged; rejects
 * only for errors that no retry can fix (a bad request, missing rights).
 */
export async function consume(options: ConsumeOptions): Promise<void> {
  const { signal } = options;
  const clientFor = instancePicker(options.client, "consume");
  let connection = 0;
  let client = clientFor(connection);
  const acks = new AckBatcher(options, () => client);
  const slots = new Slots(options.concurrency ?? 1);
  const running = new Set<string>();
  let attempt = 0;
  try {
    while (!signal.aborted) {
      try {
        const stream = client.subscribe(
          {
            eventId: options.eventId,
            group: options.group,
            consumer: options.consumer,
            types: [...(options.types ?? [])],
            start: options.start,
            maxInFlight: options.maxInFlight,
          },
          { signal },
        );
        for await (const response of stream) {
          attempt = 0;
          for (const event of response.events) {
            // A copy redelivered while the first is still being handled: that one will ack it.
            if (running.has(event.id)) continue;
            await slots.take();
            running.add(event.id);
            void (async () => {
              try {
                await options.handler(event);
                acks.add(event.id);
              } catch (error) {
                options.onError?.(error, { event });
              } finally {
                running.delete(event.id);
                slots.give();
              }
            })();
          }
        }
      } catch (error) {
        if (signal.aborted) break;
        const cause = ConnectError.from(error);
        if (FATAL.has(cause.code)) throw cause;
        options.onError?.(cause, {});
      }
      if (signal.aborted) break;
      await sleep(reconnectDelayMs(options.backoff, ++attempt), signal);
      client = clientFor(++connection);
    }
  } finally {
    await slots.drain();
    await acks.close();
  }
}

/** Acks successes in batches: one call in flight at a time, carrying everything that finished meanwhile. */
class AckBatcher {
  readonly #options: ConsumeOptions;
  readonly #client: () => FeedClient;
  #ids: string[] = [];
  #flushing: Promise<void> | undefined;

  constructor(options: ConsumeOptions, client: () => FeedClient) {
    this.#options = options;
    this.#client = client;
  }

  add(id: string): void {
    this.#ids.push(id);
    this.#flushing ??= this.#flush();
  }

  /** Sends what is left; failures are dropped (those entries are simply delivered again). */
  async close(): Promise<void> {
    await this.#flushing;
    if (this.#ids.length > 0) {
      await this.#send(this.#ids.splice(0), true);
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#ids.length > 0 && !this.#options.signal.aborted) {
        await this.#send(this.#ids.splice(0, MAX_ACK_IDS), false);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #send(ids: string[], last: boolean): Promise<void> {
    const { eventId, group } = this.#options;
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const chunk = ids.slice(i, i + MAX_ACK_IDS);
      try {
        // Whichever instance the consumer uses now: after a failed ack, the retry goes where the stream went.
        await this.#client().ack({ eventId, group, ids: chunk }, { timeoutMs: ACK_TIMEOUT_MS });
      } catch (error) {
        this.#options.onError?.(error, {});
        if (!last) {
          // Kept for the next flush; a reconnect does not invalidate them.
          this.#ids.push(...chunk);
          await sleep(ACK_RETRY_MS, this.#options.signal).catch(() => undefined);
          return;
        }
      }
    }
  }
}

const MAX_ACK_IDS = 1_000;
const ACK_TIMEOUT_MS = 5_000;
const ACK_RETRY_MS = 200;

/** A counting semaphore: `take` waits while every slot is in use. */
class Slots {
  #free: number;
  #waiters: Array<() => void> = [];
  #idle: Array<() => void> = [];
  readonly #size: number;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`concurrency must be a positive integer, got ${size}`);
    this.#free = size;
    this.#size = size;
  }

  async take(): Promise<void> {
    while (this.#free === 0) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#free--;
  }

  give(): void {
    this.#free++;
    this.#waiters.shift()?.();
    if (this.#free === this.#size) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Resolves once no slot is taken. */
  drain(): Promise<void> {
    return this.#free === this.#size ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
