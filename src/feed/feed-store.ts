import { randomInt } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import { pipelineReply, type PipelineResults } from "../redis/pipeline-read.js";
import type { RedisConnection } from "../redis/redis-cluster.js";
import { ScriptRunner } from "../redis/script-loader.js";
import type { ScriptObserver } from "../observe/script-observer.js";
import {
  decodeAck,
  decodeDeadLetters,
  decodeDeliver,
  decodeGroupStats,
  decodeOpenGroup,
  decodeReplay,
  decodeStreamStats,
} from "./decode.js";
import { feedGroupsKey, feedKeys, type FeedKeys } from "./keys.js";
import { FeedLimits, loadFeedScripts, type FeedScriptName } from "./scripts.js";
import type {
  DeadLetterPageResult,
  DeliverRequest,
  DeliverResult,
  DeliveryPolicy,
  FeedGroupStats,
  FeedStreamStats,
  GroupStart,
  OpenGroupResult,
  ReplayResult,
} from "./types.js";

export interface FeedStoreOptions {
  readonly keyPrefix?: string;
  readonly policy: DeliveryPolicy;
  /** Milliseconds added to Redis TIME by every script: tests move the feed's clock with it instead of sleeping. */
  readonly clockSkewMs?: () => number;
  /** Sees every script call (metrics, tracing); undefined: nothing does. */
  readonly scriptObserver?: ScriptObserver | undefined;
}

/**
 * The change feed's Redis core: consumer groups over each event's outbox
 * stream. Each method is one script (stats: one per group, pipelined), and
 * returns a domain result.
 */
export class FeedStore {
  readonly #redis: RedisConnection;
  readonly #scripts: ScriptRunner<FeedScriptName>;
  readonly #prefix: string;
  readonly #policy: DeliveryPolicy;
  readonly #skew: () => number;

  constructor(redis: RedisConnection, options: FeedStoreOptions) {
    this.#redis = redis;
    this.#scripts = new ScriptRunner(redis, loadFeedScripts(), options.scriptObserver);
    this.#prefix = options.keyPrefix ?? "bo:";
    this.#policy = options.policy;
    this.#skew = options.clockSkewMs ?? (() => 0);
  }

  keys(eventId: string, group: string): FeedKeys {
    return feedKeys(this.#prefix, eventId, group);
  }

  /** Creates the group (and the event's stream, if it has none yet) unless it exists. */
  async openGroup(eventId: string, group: string, start: GroupStart): Promise<OpenGroupResult> {
    const k = this.keys(eventId, group);
    const from = start.kind === "beginning" ? "0" : start.kind === "now" ? "$" : start.id;
    const reply = await this.#scripts.run("openFeedGroup", [k.log, k.replay, k.groups, k.meta], [group, from, this.#skew()]);
    return decodeOpenGroup(reply);
  }

  /** One delivery step for one consumer: due redeliveries first, then new entries, within its room. */
  async deliver(request: DeliverRequest): Promise<DeliverResult> {
    const { eventId, group, consumer, maxInFlight, types } = request;
    const k = this.keys(eventId, group);
    const p = this.#policy;
    const reply = await this.#scripts.run(
      "deliverChanges",
      [k.log, k.replay, k.dlq, k.due, k.meta],
      [
        group,
        consumer,
        maxInFlight,
        Math.min(maxInFlight, FeedLimits.deliverBatch),
        p.visibilityTimeoutMs,
        p.maxDeliveries,
        p.backoff,
        p.backoffBaseMs,
        p.backoffMaxMs,
        randomInt(2 ** 31),
        this.#skew(),
        types.length === 0 ? "" : `,${types.join(",")},`,
      ],
    );
    return decodeDeliver(reply);
  }

  /** Acknowledges entries for a group; returns how many were pending and now are not. */
  async ack(eventId: string, group: string, ids: readonly string[]): Promise<number> {
    const k = this.keys(eventId, group);
    return decodeAck(await this.#scripts.run("ackChanges", [k.log, k.replay, k.due, k.meta], [group, ...ids]));
  }

  /** The stream and every group's progress; each group is read atomically, the groups one after another. */
  async stats(eventId: string): Promise<FeedStreamStats> {
    const groupsKey = feedGroupsKey(this.#prefix, eventId);
    const log = this.keys(eventId, "").log;
    const stream = decodeStreamStats(await this.#scripts.run("readFeedStream", [log, groupsKey], []));
    const groups: FeedGroupStats[] = [];
    if (stream.groups.length > 0) {
      const pipeline = this.#redis.pipeline();
      for (const group of stream.groups) {
        const k = this.keys(eventId, group);
        this.#scripts.queue(pipeline, "readFeedGroup", [k.log, k.replay, k.dlq, k.meta], [group, this.#skew()]);
      }
      const results = (await pipeline.exec()) ?? [];
      stream.groups.forEach((group, i) => {
        const [error, reply] = results[i] ?? [new Error("pipeline returned nothing"), undefined];
        if (error) {
          throw error;
        }
        const stats = decodeGroupStats(reply, group);
        if (stats) {
          groups.push(stats);
        }
      });
    }
    return { length: stream.length, firstId: stream.firstId, lastId: stream.lastId, groups };
  }

  /**
   * Queues the feed's stats on a pipeline of this store's client, for readers
   * that batch many events in one round trip: the stream's group names, and
   * the progress of the groups in `groups` (names learnt from an earlier
   * read; those since deleted are left out).
   */
  queueStats(
    pipeline: ChainableCommander,
    eventId: string,
    groups: readonly string[],
  ): (results: PipelineResults) => { readonly groupNames: readonly string[]; readonly groups: readonly FeedGroupStats[] } {
    const log = this.keys(eventId, "").log;
    const at = pipeline.length;
    this.#scripts.queue(pipeline, "readFeedStream", [log, feedGroupsKey(this.#prefix, eventId)], []);
    for (const group of groups) {
      const k = this.keys(eventId, group);
      this.#scripts.queue(pipeline, "readFeedGroup", [k.log, k.replay, k.dlq, k.meta], [group, this.#skew()]);
    }
    return (results) => {
      const stream = decodeStreamStats(pipelineReply(results, at));
      const read = groups.map((group, i) => decodeGroupStats(pipelineReply(results, at + 1 + i), group));
      return { groupNames: stream.groups, groups: read.filter((g): g is FeedGroupStats => g !== undefined) };
    };
  }

  /** A page of a group's dead letters after `after` (a dead letter id), oldest first. */
  async deadLetters(eventId: string, group: string, after: string | undefined, pageSize: number): Promise<DeadLetterPageResult> {
    const k = this.keys(eventId, group);
    const reply = await this.#scripts.run("listDeadLetters", [k.groups, k.dlq], [group, after ?? "", pageSize]);
    return decodeDeadLetters(reply, pageSize);
  }

  /**
   * Gives dead letters back to the group as new deliveries: the given ids, or
   * with none, all of them (in steps of `replayBatch`, each atomic; letters
   * dead-lettered again meanwhile wait for the next call).
   */
  async replay(eventId: string, group: string, ids: readonly string[] | "all"): Promise<ReplayResult> {
    const k = this.keys(eventId, group);
    const keys = [k.groups, k.dlq, k.replay, k.meta];
    if (ids !== "all") {
      const step = decodeReplay(await this.#scripts.run("replayDeadLetters", keys, [group, 0, ...ids]));
      return step.kind === "replayed" ? { kind: "replayed", replayed: step.replayed } : step;
    }
    let replayed = 0;
    let left = await this.#redis.xlen(k.dlq);
    do {
      const step = decodeReplay(await this.#scripts.run("replayDeadLetters", keys, [group, FeedLimits.replayBatch]));
      if (step.kind === "group_not_found") {
        return step;
      }
      replayed += step.replayed;
      left -= step.replayed;
      if (step.replayed < FeedLimits.replayBatch) {
        break;
      }
    } while (left > 0);
    return { kind: "replayed", replayed };
  }
}
