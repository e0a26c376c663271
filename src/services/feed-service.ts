import type { ServiceImpl } from "@connectrpc/connect";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ChangeFeedService, SubscribeStart, type SubscribeRequest } from "../../gen/boxoffice/v1/feed_pb.js";
import type { FeedStore } from "../feed/feed-store.js";
import type { OutboxSignal } from "../feed/outbox-signal.js";
import { subscription, type SubscriptionCounter } from "../feed/subscription.js";
import type { FeedGroupStats, GroupStart } from "../feed/types.js";
import type { FeedWakeups } from "../feed/wakeups.js";
import { invalidRequest } from "../rpc/errors.js";
import { changeEventMessage } from "./feed-convert.js";
import { checkStreamId, checkStreamIds, feedErrors } from "./feed-errors.js";

export interface FeedServiceDeps {
  readonly store: FeedStore;
  readonly outbox: OutboxSignal;
  readonly wakeups: FeedWakeups;
  readonly subscriptions: SubscriptionCounter;
  /** Reported by GetFeedStats: how long the outbox keeps entries. */
  readonly retentionHours: number;
}

const DEFAULT_MAX_IN_FLIGHT = 100;
const DEFAULT_PAGE_SIZE = 100;

/**
 * ChangeFeedService over the feed store. Subscribe creates its group on first
 * use, even for an event that has had no change yet (its outbox stream is
 * then created empty), and streams batches from one delivery step at a time.
 */
export function createFeedService(deps: FeedServiceDeps): ServiceImpl<typeof ChangeFeedService> {
  const { store } = deps;
  return {
    async *subscribe(req, ctx) {
      const start = groupStart(req);
      await store.openGroup(req.eventId, req.group, start);
      const request = {
        eventId: req.eventId,
        group: req.group,
        consumer: req.consumer,
        maxInFlight: req.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
        // Entries of other types are acknowledged for the whole group without
        // being delivered (the contract asks every consumer of a group for the same types).
        types: req.types,
      };
      for await (const item of subscription(deps, request, ctx.signal, deps.subscriptions)) {
        switch (item.kind) {
          case "entries":
            yield { events: item.entries.map((entry) => changeEventMessage(req.eventId, entry)) };
            break;
          case "group_not_found":
            throw feedErrors.group_not_found(req.eventId, req.group);
        }
      }
    },

    async ack(req) {
      checkStreamIds("ids", req.ids);
      const acknowledged = await store.ack(req.eventId, req.group, req.ids);
      if (acknowledged > 0) {
        deps.wakeups.ring(req.eventId, req.group);
      }
      return { acknowledged };
    },

    async getFeedStats(req) {
      const stats = await store.stats(req.eventId);
      return {
        eventId: req.eventId,
        length: BigInt(stats.length),
        firstId: stats.firstId ?? "",
        lastId: stats.lastId ?? "",
        retention: durationFromMs(deps.retentionHours * 3_600_000),
        groups: stats.groups.map(groupStatsMessage),
      };
    },

    async listDeadLetters(req) {
      if (req.pageToken !== "") {
        checkStreamId("page_token", req.pageToken);
      }
      const page = await store.deadLetters(req.eventId, req.group, req.pageToken || undefined, req.pageSize ?? DEFAULT_PAGE_SIZE);
      if (page.kind === "group_not_found") {
        throw feedErrors.group_not_found(req.eventId, req.group);
      }
      return {
        total: BigInt(page.total),
        nextPageToken: page.nextAfter ?? "",
        deadLetters: page.deadLetters.map((letter) => ({
          id: letter.id,
          event: changeEventMessage(req.eventId, {
            id: letter.originalId,
            deliveryCount: letter.deliveryCount,
            replayedFromId: undefined,
            fields: letter.fields,
          }),
          reason: letter.reason,
          deliveryCount: letter.deliveryCount,
          lastConsumer: letter.lastConsumer,
          deadAt: timestampFromMs(letter.deadAtMs),
        })),
      };
    },

    async replayDeadLetters(req) {
      if (req.ids.length === 0 && !req.all) {
        throw invalidRequest([{ field: "ids", description: "name the dead letters to replay, or set all" }]);
      }
      if (req.ids.length > 0 && req.all) {
        throw invalidRequest([{ field: "all", description: "must not be set together with ids" }]);
      }
      checkStreamIds("ids", req.ids);
      const result = await store.replay(req.eventId, req.group, req.all ? "all" : req.ids);
      if (result.kind === "group_not_found") {
        throw feedErrors.group_not_found(req.eventId, req.group);
      }
      if (result.replayed > 0) {
        deps.wakeups.ring(req.eventId, req.group);
      }
      return { replayed: result.replayed };
    },
  };
}

/** SubscribeStart (+ start_after_id) → where a new group starts; INVALID_ARGUMENT when they disagree. */
function groupStart(req: SubscribeRequest): GroupStart {
  if (req.start === SubscribeStart.AFTER_ID) {
    if (req.startAfterId === "") {
      throw invalidRequest([{ field: "start_after_id", description: "is required with SUBSCRIBE_START_AFTER_ID" }]);
    }
    checkStreamId("start_after_id", req.startAfterId);
    return { kind: "after", id: req.startAfterId };
  }
  if (req.startAfterId !== "") {
    throw invalidRequest([{ field: "start_after_id", description: "is only allowed with SUBSCRIBE_START_AFTER_ID" }]);
  }
  return req.start === SubscribeStart.BEGINNING ? { kind: "beginning" } : { kind: "now" };
}

function groupStatsMessage(stats: FeedGroupStats) {
  return {
    group: stats.group,
    consumers: stats.consumers,
    pending: BigInt(stats.pending),
    oldestPendingAge: stats.oldestPendingAgeMs === undefined ? undefined : durationFromMs(stats.oldestPendingAgeMs),
    lag: BigInt(stats.lag),
    lastDeliveredId: stats.lastDeliveredId,
    deliveredTotal: BigInt(stats.deliveredTotal),
    ackedTotal: BigInt(stats.ackedTotal),
    deadLetters: BigInt(stats.deadLetters),
    trimmedWhilePending: BigInt(stats.trimmedWhilePending),
  };
}
