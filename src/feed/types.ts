import type { StoredBackoff } from "../redis/outcomes.js";

/** Domain types of the change feed: what `FeedStore` takes and returns (no protobuf here). */

export type BackoffCode = (typeof StoredBackoff)[keyof typeof StoredBackoff];

/** Redelivery policy, from the configuration. */
export interface DeliveryPolicy {
  readonly visibilityTimeoutMs: number;
  readonly backoff: BackoffCode;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxDeliveries: number;
}

/** Where a group starts when it is created. */
export type GroupStart = { readonly kind: "beginning" } | { readonly kind: "now" } | { readonly kind: "after"; readonly id: string };

/** One outbox entry as delivered to a consumer. */
export interface FeedEntry {
  /** What Ack takes: the outbox id, or `0-<n>` for a replayed dead letter. */
  readonly id: string;
  readonly deliveryCount: number;
  /** The original outbox id of a replayed dead letter; undefined otherwise. */
  readonly replayedFromId: string | undefined;
  /** The entry's fields as written by the script that made the change (see `change-types.ts`). */
  readonly fields: ReadonlyMap<string, string>;
}

export interface DeliverRequest {
  readonly eventId: string;
  readonly group: string;
  readonly consumer: string;
  readonly maxInFlight: number;
  /** Change types to deliver; empty = all. */
  readonly types: readonly string[];
}

export type DeliverResult =
  | {
      readonly kind: "delivered";
      readonly entries: readonly FeedEntry[];
      /** Entries this consumer holds unacknowledged after the step. */
      readonly inFlight: number;
      /** Another step right away may deliver more. */
      readonly more: boolean;
    }
  | { readonly kind: "group_not_found" };

export type OpenGroupResult = { readonly kind: "created" } | { readonly kind: "exists" };

export interface FeedStreamStats {
  readonly length: number;
  readonly firstId: string | undefined;
  readonly lastId: string | undefined;
  readonly groups: readonly FeedGroupStats[];
}

export interface FeedGroupStats {
  readonly group: string;
  readonly consumers: number;
  readonly pending: number;
  /** Undefined when nothing is pending. */
  readonly oldestPendingAgeMs: number | undefined;
  readonly lag: number;
  readonly lastDeliveredId: string;
  readonly deliveredTotal: number;
  readonly ackedTotal: number;
  readonly deadLetters: number;
  readonly trimmedWhilePending: number;
}

export interface DeadLetterView {
  /** The dead letter's own id. */
  readonly id: string;
  /** The original outbox id. */
  readonly originalId: string;
  readonly reason: string;
  readonly deliveryCount: number;
  readonly lastConsumer: string;
  readonly deadAtMs: number;
  /** The original entry's fields. */
  readonly fields: ReadonlyMap<string, string>;
}

export type DeadLetterPageResult =
  | {
      readonly kind: "page";
      readonly deadLetters: readonly DeadLetterView[];
      /** Id to read after for the next page; undefined on the last page. */
      readonly nextAfter: string | undefined;
      readonly total: number;
    }
  | { readonly kind: "group_not_found" };

export type ReplayResult = { readonly kind: "replayed"; readonly replayed: number } | { readonly kind: "group_not_found" };
