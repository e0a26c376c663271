import type { FeedStore } from "./feed-store.js";
import type { OutboxFollow, OutboxSignal } from "./outbox-signal.js";
import type { DeliverRequest, FeedEntry } from "./types.js";
import type { FeedWakeups } from "./wakeups.js";

export interface SubscriptionDeps {
  readonly store: FeedStore;
  readonly outbox: OutboxSignal;
  readonly wakeups: FeedWakeups;
}

export type SubscriptionItem = { readonly kind: "entries"; readonly entries: readonly FeedEntry[] } | { readonly kind: "group_not_found" };

/** Live subscriptions of this process, for tests and metrics. */
export class SubscriptionCounter {
  active = 0;
  /** Delivery steps run, in all. */
  steps = 0;
}

/**
 * One subscriber's stream: delivery steps (each one script: due redeliveries,
 * then new entries, within the subscriber's room) and, between them, a wait
 * for the outbox signal or a local Ack of the group. The event is followed
 * from before the first step, so an append made while a step runs wakes the
 * next wait at once. Yields only non-empty
 * batches. A slow reader holds the generator at `yield`, so nothing is read
 * for it meanwhile, and it never holds more than `maxInFlight` entries: the
 * memory it costs is bounded by that, not by the backlog.
 *
 * Rejects with `signal.reason` once the signal aborts; a step cut short by
 * the abort may have handed entries to this consumer in Redis, which are then
 * redelivered after the visibility timeout (at least once).
 */
export async function* subscription(
  deps: SubscriptionDeps,
  request: DeliverRequest,
  signal: AbortSignal,
  counter: SubscriptionCounter = new SubscriptionCounter(),
): AsyncGenerator<SubscriptionItem> {
  counter.active++;
  const follow = deps.outbox.follow(request.eventId);
  try {
    for (;;) {
      signal.throwIfAborted();
      const result = await abortable(deps.store.deliver(request), signal);
      counter.steps++;
      if (result.kind === "group_not_found") {
        yield result;
        return;
      }
      if (result.entries.length > 0) {
        yield { kind: "entries", entries: result.entries };
      }
      if (!result.more) {
        await nextLook(deps, follow, request, signal);
      }
    }
  } finally {
    follow.close();
    counter.active--;
  }
}

/** Waits for the outbox signal or a local Ack of the group, whichever comes first. */
async function nextLook(deps: SubscriptionDeps, follow: OutboxFollow, request: DeliverRequest, signal: AbortSignal): Promise<void> {
  const round = new AbortController();
  const stop = (): void => round.abort(signal.reason);
  signal.addEventListener("abort", stop, { once: true });
  try {
    await Promise.race([follow.wait(round.signal), deps.wakeups.wait(request.eventId, request.group, round.signal)]);
  } finally {
    signal.removeEventListener("abort", stop);
    round.abort();
  }
  signal.throwIfAborted();
}

/** The promise's outcome, or a rejection with `signal.reason` as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
