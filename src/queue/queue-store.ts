import { randomInt } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import { pipelineReply, type PipelineResults } from "../redis/pipeline-read.js";
import type { RedisConnection } from "../redis/redis-cluster.js";
import { checkRetention, trimBefore } from "../redis/event-log.js";
import type { SweepResult } from "../redis/event-sweeper.js";
import { ScriptRunner } from "../redis/script-loader.js";
import type { ScriptObserver } from "../observe/script-observer.js";
import { decodeAdmit, decodeConfigure, decodeJoin, decodeLeave, decodePosition, decodeStats, decodeSweepStep } from "./decode.js";
import { eventIndexKey, queueKeys, ticketBucketKey, type QueueKeys } from "./keys.js";
import { loadQueueScripts, QueueDefaults, type QueueScriptName } from "./scripts.js";
import { decodeWatchTick, type WatchTick } from "./watch-decode.js";
import type {
  AdmitOptions,
  AdmitResult,
  ConfigureResult,
  JoinResult,
  LeaveResult,
  PositionResult,
  QueueConfigChange,
  StatsResult,
  SweepStepResult,
} from "./types.js";

export interface QueueStoreOptions {
  /** Prefix of every key (default `bo:`). */
  readonly keyPrefix?: string;
  /**
   * Milliseconds added to Redis `TIME` by every script. Always 0 in
   * production; tests move the clock forward with it to drive expiry
   * deterministically instead of sleeping.
   */
  readonly clockSkewMs?: () => number;
  /**
   * Seeds of the opening shuffle, one per admission call (0 .. 2^31-1).
   * Random by default; tests pass a fixed list to replay an opening.
   */
  readonly shuffleSeeds?: () => number;
  /**
   * How long the event's outbox keeps entries (ms); 0 or unset keeps
   * everything. Entries older than the store's clock (`Date.now()` plus the
   * skew) minus this go as scripts append and as the sweeper passes.
   */
  readonly retentionMs?: number;
  /** Sees every script call (metrics, tracing); undefined: nothing does. */
  readonly scriptObserver?: ScriptObserver | undefined;
}

/**
 * The waiting room's Redis core: each method is one script, one round trip,
 * and returns a domain result (never protobuf types, never exceptions for
 * expected outcomes).
 */
export class QueueStore {
  readonly #redis: RedisConnection;
  readonly #scripts: ScriptRunner<QueueScriptName>;
  readonly #prefix: string;
  readonly #skew: () => number;
  readonly #seeds: () => number;
  readonly #retentionMs: number;

  constructor(redis: RedisConnection, options: QueueStoreOptions = {}) {
    this.#redis = redis;
    this.#scripts = new ScriptRunner(redis, loadQueueScripts(), options.scriptObserver);
    this.#prefix = options.keyPrefix ?? "bo:";
    this.#skew = options.clockSkewMs ?? (() => 0);
    this.#seeds = options.shuffleSeeds ?? (() => randomInt(SEED_LIMIT));
    this.#retentionMs = checkRetention(options.retentionMs);
  }

  keys(eventId: string): QueueKeys {
    return queueKeys(this.#prefix, eventId);
  }

  /**
   * Creates or updates an event's queue and records the event in the index
   * the sweeper walks. The two commands go out together (one round trip on
   * one server; on a cluster, one to each of the two slots' primaries at
   * once): they are separate because the index lives outside the event's
   * hash slot.
   */
  async configure(eventId: string, change: QueueConfigChange): Promise<ConfigureResult> {
    const k = this.keys(eventId);
    const opensAt = change.opensAtMs === null ? "clear" : optional(change.opensAtMs);
    const [reply] = await Promise.all([
      this.#scripts.run("configureQueue", [k.config, k.log], [
        this.#trimBefore(),
        optional(change.admitRatePerSec),
        optional(change.admitBurst),
        optional(change.maxActive),
        optional(change.sessionTtlSeconds),
        optional(change.idleTimeoutSeconds),
        opensAt,
        optional(change.state),
        this.#skew(),
      ]),
      this.#redis.sadd(eventIndexKey(this.#prefix), eventId),
    ]);
    return decodeConfigure(reply, eventId);
  }

  async join(eventId: string, userId: string): Promise<JoinResult> {
    const k = this.keys(eventId);
    const reply = await this.#scripts.run(
      "joinQueue",
      [k.config, k.waiting, ticketBucketKey(k, userId), k.stats, k.log, k.active],
      [this.#trimBefore(), userId, this.#skew()],
    );
    return decodeJoin(reply, eventId, userId);
  }

  /** Reads the ticket and counts as presence for the idle timeout. */
  async position(eventId: string, userId: string): Promise<PositionResult> {
    const reply = await this.#scripts.run("getPosition", this.#userKeys(eventId, userId), [this.#trimBefore(), userId, this.#skew()]);
    return decodePosition(reply, eventId, userId);
  }

  /** Leaves the line, or ends the user's admission session. */
  async leave(eventId: string, userId: string): Promise<LeaveResult> {
    const k = this.keys(eventId);
    const reply = await this.#scripts.run("leaveQueue", [...this.#userKeys(eventId, userId), k.active], [
      this.#trimBefore(),
      userId,
      this.#skew(),
    ]);
    return decodeLeave(reply, eventId, userId);
  }

  /**
   * One tick of an event's WatchPosition loop: refreshes the presence of
   * `touch` (those still waiting), reads the tickets of `read` (which
   * refreshes theirs too), and the line's figures, with the newest outbox id
   * the tickets include. The cost follows the two lists, not how many watch.
   */
  async watchTick(eventId: string, users: { readonly touch: readonly string[]; readonly read: readonly string[] }): Promise<WatchTick> {
    const k = this.keys(eventId);
    const reply = await this.#scripts.run(
      "watchTick",
      [k.config, k.waiting, k.tickets, k.stats, k.log],
      [this.#skew(), users.touch.length, ...users.touch, ...users.read],
    );
    return decodeWatchTick(reply);
  }

  async stats(eventId: string): Promise<StatsResult> {
    const k = this.keys(eventId);
    const reply = await this.#scripts.run("readQueueStats", [k.config, k.waiting, k.tickets, k.stats, k.active], [this.#skew()]);
    return decodeStats(reply, eventId);
  }

  /**
   * Queues `stats` on a pipeline of this store's client, for readers that
   * batch many events in one round trip; the result decodes its reply.
   */
  queueStats(pipeline: ChainableCommander, eventId: string): (results: PipelineResults) => StatsResult {
    const k = this.keys(eventId);
    const at = pipeline.length;
    this.#scripts.queue(pipeline, "readQueueStats", [k.config, k.waiting, k.tickets, k.stats, k.active], [this.#skew()]);
    return (results) => decodeStats(pipelineReply(results, at), eventId);
  }

  /**
   * One step of the idle sweep: reads up to `limit` waiters of one event in
   * line order, from where the previous step stopped, expires the idle ones
   * (stopping after `maxExpired` of them, which is what bounds the step's
   * time), and trims the event's outbox to the retention (see `sweepQueue-5.lua`).
   */
  async sweepStep(eventId: string, limit: number, maxExpired: number = QueueDefaults.sweepMaxExpired): Promise<SweepStepResult> {
    if (!isPositiveInteger(limit) || !isPositiveInteger(maxExpired)) {
      throw new RangeError(`sweep limits must be positive integers, got ${limit} and ${maxExpired}`);
    }
    const reply = await this.#scripts.run("sweepQueue", this.#lineKeys(eventId), [this.#trimBefore(), this.#skew(), limit, maxExpired]);
    return decodeSweepStep(reply);
  }

  /** `sweepStep` as the event sweeper takes it: `more` until the walk through the line is done. */
  async sweep(eventId: string, limit: number): Promise<SweepResult> {
    const step = await this.sweepStep(eventId, limit);
    return step.kind === "swept" ? { kind: "swept", expired: step.expired, more: step.more } : step;
  }

  /**
   * One admission step of one event: ends lapsed sessions, refills the token
   * bucket and admits from the head of the line. Safe to call from any number
   * of instances at once; `more` asks for another call right away.
   */
  async admit(eventId: string, options: AdmitOptions = {}): Promise<AdmitResult> {
    const maxAdmissions = options.maxAdmissions ?? QueueDefaults.admitBatch;
    const sessionBatch = options.sessionBatch ?? QueueDefaults.sessionBatch;
    const shuffleBatch = options.shuffleBatch ?? QueueDefaults.shuffleBatch;
    if (![maxAdmissions, sessionBatch, shuffleBatch].every(isPositiveInteger)) {
      throw new RangeError(`admission limits must be positive integers, got ${maxAdmissions}, ${sessionBatch} and ${shuffleBatch}`);
    }
    const seed = this.#seeds();
    if (!(Number.isSafeInteger(seed) && seed >= 0 && seed < SEED_LIMIT)) {
      throw new RangeError(`shuffle seeds must be integers in [0, 2^31), got ${seed}`);
    }
    const k = this.keys(eventId);
    const reply = await this.#scripts.run(
      "admitQueue",
      [k.config, k.waiting, k.tickets, k.stats, k.log, k.active, k.bucket],
      [this.#trimBefore(), this.#skew(), maxAdmissions, sessionBatch, shuffleBatch, seed],
    );
    return decodeAdmit(reply);
  }

  /** Every configured event id (an index set, not a key scan). */
  async eventIds(): Promise<string[]> {
    return this.#redis.smembers(eventIndexKey(this.#prefix));
  }

  /** ARGV[1] of every script that appends to the outbox. */
  #trimBefore(): string {
    return trimBefore(this.#retentionMs, Date.now() + this.#skew());
  }

  #lineKeys(eventId: string): string[] {
    const k = this.keys(eventId);
    return [k.config, k.waiting, k.tickets, k.stats, k.log];
  }

  /** The line's keys for a script about one user: their ticket bucket in place of the buckets' prefix. */
  #userKeys(eventId: string, userId: string): string[] {
    const k = this.keys(eventId);
    return [k.config, k.waiting, ticketBucketKey(k, userId), k.stats, k.log];
  }
}

/** Redis seeds its Lua `math.random` from a C int. */
const SEED_LIMIT = 2 ** 31;

function optional(value: number | undefined): string {
  return value === undefined ? "" : String(value);
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}
