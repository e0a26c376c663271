import type { ChainableCommander } from "ioredis";
import { pipelineReply, type PipelineResults } from "../redis/pipeline-read.js";
import type { RedisConnection } from "../redis/redis-cluster.js";
import { checkRetention, trimBefore } from "../redis/event-log.js";
import { decodeSweepReply, type SweepResult } from "../redis/event-sweeper.js";
import { ReplicatedScripts, type ReplicaWaitPolicy } from "../redis/replica-wait.js";
import { ScriptRunner } from "../redis/script-loader.js";
import type { ReplicaWaitConnections } from "../redis/wait-connections.js";
import type { ScriptObserver } from "../observe/script-observer.js";
import { memoByKey } from "../util/memo.js";
import { queueKeys, ticketBucketKey } from "../queue/keys.js";
import { decodeAvailability, decodeLoad } from "./decode-inventory.js";
import { decodeConfirm, decodeExtend, decodeGetHold, decodeHold, decodeRelease } from "./decode.js";
import { holdRequestKey, seatEventIndexKey, seatKeys, type SeatKeys } from "./keys.js";
import { assertId, encodeLayout, SeatMapDefaults } from "./seat-map.js";
import { loadSeatScripts, type SeatScriptName } from "./scripts.js";
import type {
  AvailabilityResult,
  ConfirmResult,
  ExtendResult,
  GetHoldResult,
  HoldResult,
  LoadResult,
  ReleaseResult,
  SeatMap,
  SeatMapSettings,
  SeatSelection,
} from "./types.js";

export interface SeatStoreOptions {
  /** Prefix of every key (default `bo:`). */
  readonly keyPrefix?: string;
  /**
   * Milliseconds added to Redis `TIME` by every script. Always 0 in
   * production; tests move the clock forward with it to drive expiry
   * deterministically instead of sleeping.
   */
  readonly clockSkewMs?: () => number;
  /**
   * How long the event's outbox keeps entries (ms); 0 or unset keeps
   * everything. Entries older than the store's clock (`Date.now()` plus the
   * skew) minus this go as scripts append and as the reaper passes.
   */
  readonly retentionMs?: number;
  /**
   * The client LoadSeatMap runs on (default: the store's own). Its script
   * writes a whole venue in one step (about 1.5 s for 100,000 seats), longer
   * than the command timeout every other call is held to.
   */
  readonly loadRedis?: RedisConnection;
  /**
   * Sales wait for replicas: ConfirmHold runs with `WAIT` on these
   * connections of its own, to the primary of the event's slot (see
   * `ReplicatedScripts`). Unset: sales answer as soon as the primary wrote
   * them.
   */
  readonly confirmWait?: { readonly connections: ReplicaWaitConnections; readonly policy: ReplicaWaitPolicy };
  /** Sees every script call (metrics, tracing); undefined: nothing does. */
  readonly scriptObserver?: ScriptObserver | undefined;
}

/**
 * The seat inventory's Redis core: each method is one script, one round trip,
 * and returns a domain result (never protobuf types, never exceptions for
 * expected outcomes). Every script first expires a bounded batch of the
 * event's due holds, so expired seats come back even between reaper passes.
 *
 * Ids (event, user, hold, seat, section, tier; order ids up to 128) must match
 * `[A-Za-z0-9][A-Za-z0-9._:-]*`: the service validates them first, and an
 * invalid one reaching the store is a bug that throws.
 */
/** Events whose key lists a store keeps at hand. */
const KEY_CACHE_EVENTS = 1000;

export class SeatStore {
  readonly #redis: RedisConnection;
  readonly #scripts: ScriptRunner<SeatScriptName>;
  readonly #loadRedis: RedisConnection;
  readonly #loadScripts: ScriptRunner<SeatScriptName>;
  readonly #confirmScripts: ReplicatedScripts<SeatScriptName> | undefined;
  readonly #prefix: string;
  readonly #skew: () => number;
  readonly #retentionMs: number;
  /** Per event: the keys every seat script takes, those plus the layout, and the hold script's. */
  readonly #keyLists: (eventId: string) => { readonly core: string[]; readonly withLayout: string[]; readonly hold: string[] };

  constructor(redis: RedisConnection, options: SeatStoreOptions = {}) {
    this.#redis = redis;
    const scripts = loadSeatScripts();
    this.#scripts = new ScriptRunner(redis, scripts, options.scriptObserver);
    this.#loadRedis = options.loadRedis ?? redis;
    this.#loadScripts = options.loadRedis ? new ScriptRunner(options.loadRedis, scripts, options.scriptObserver) : this.#scripts;
    this.#confirmScripts = options.confirmWait && new ReplicatedScripts(options.confirmWait.connections, scripts, options.confirmWait.policy, options.scriptObserver);
    const prefix = options.keyPrefix ?? "bo:";
    this.#prefix = prefix;
    this.#skew = options.clockSkewMs ?? (() => 0);
    this.#retentionMs = checkRetention(options.retentionMs);
    this.#keyLists = memoByKey(KEY_CACHE_EVENTS, (eventId) => {
      const k = seatKeys(prefix, eventId);
      const core = [k.config, k.seats, k.taken, k.holds, k.expiry, k.users, k.counts, k.log];
      const withLayout = [...core, k.layout];
      return { core, withLayout, hold: [...withLayout, queueKeys(prefix, eventId).active] };
    });
  }

  keys(eventId: string): SeatKeys {
    return seatKeys(this.#prefix, eventId);
  }

  /** Runs a seat script; for modules of this feature that decode their own replies. */
  run(name: SeatScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#scripts.run(name, keys, args);
  }

  /**
   * Loads or replaces an event's inventory in one script call (each section's
   * layout travels as one argument) and records the event in the index the
   * reaper walks, in the same round trip. Check the map with `validateSeatMap`
   * first; a duplicate id is still refused here without writing.
   */
  async loadSeatMap(eventId: string, map: SeatMap): Promise<LoadResult> {
    const settings: SeatMapSettings = {
      holdTtlSeconds: map.holdTtlSeconds ?? SeatMapDefaults.holdTtlSeconds,
      maxHoldTtlSeconds: map.maxHoldTtlSeconds ?? SeatMapDefaults.maxHoldTtlSeconds,
      maxSeatsPerUser: map.maxSeatsPerUser ?? SeatMapDefaults.maxSeatsPerUser,
      requirePass: map.requirePass ?? false,
    };
    const args: Array<string | number> = [
      this.#trimBefore(),
      this.#skew(),
      settings.holdTtlSeconds,
      settings.maxHoldTtlSeconds,
      settings.maxSeatsPerUser,
      settings.requirePass ? 1 : 0,
      map.sections.length,
    ];
    for (const section of map.sections) {
      assertId(section.sectionId);
      args.push(section.sectionId, encodeLayout(section));
    }
    for (const tier of map.tiers) {
      assertId(tier.tierId);
      args.push(tier.tierId, tier.capacity);
    }
    // Together, not in one pipeline: the index lives outside the event's hash slot.
    const [reply] = await Promise.all([
      this.#loadScripts.run("loadSeatMap", this.#withLayout(eventId), args),
      this.#loadRedis.sadd(seatEventIndexKey(this.#prefix), eventId),
    ]);
    return decodeLoad(reply, eventId, settings);
  }

  /**
   * Holds seats for a user, all or nothing. `holdId` is the caller's random,
   * unguessable id (the fencing token ConfirmHold requires); retrying with the
   * same id and user returns that hold (`already_held`) instead of a second one.
   * Best available: the front-most row's leftmost run of adjacent seats;
   * failing that, the fewest blocks of adjacent seats (largest first, ties to
   * the front, then the left). A seat map that requires a pass refuses the
   * hold (`pass_required`) unless the caller says it verified the user's pass,
   * and (`session_not_active`) unless the user's admission session is active.
   *
   * `requestId` is the caller's idempotency key for the (event, user): while
   * the event's maximum hold lifetime has not passed since it made a hold, the
   * same key with the same selection returns that hold as it stands
   * (`already_held`: HELD, or RELEASED, CONFIRMED, EXPIRED since) without
   * taking anything, and with another selection is refused
   * (`request_id_reused`).
   */
  async hold(
    eventId: string,
    userId: string,
    holdId: string,
    selection: SeatSelection,
    options: { readonly passVerified?: boolean; readonly requestId?: string | undefined } = {},
  ): Promise<HoldResult> {
    assertId(userId);
    assertId(holdId);
    const requestId = options.requestId ?? "";
    if (requestId !== "") assertId(requestId, 128);
    const [kind, target, quantity, seatIds] = selectionArgs(selection);
    const keys = [...this.#keyLists(eventId).hold, holdRequestKey(this.#prefix, eventId, userId, requestId)];
    const reply = await this.#scripts.run("holdSeats", keys, [
      this.#trimBefore(),
      holdId,
      userId,
      this.#skew(),
      options.passVerified ? "1" : "0",
      kind,
      target,
      quantity,
      requestId,
      ...seatIds,
    ]);
    return decodeHold(reply, eventId);
  }

  /** New expiry = min(now + (ttl ?? the event's hold TTL), created + max hold lifetime), never sooner than before. */
  async extend(eventId: string, holdId: string, userId: string, ttlSeconds?: number): Promise<ExtendResult> {
    if (ttlSeconds !== undefined && !(Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0)) {
      throw new Error(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
    }
    const reply = await this.#scripts.run("extendHold", this.#core(eventId), [
      this.#trimBefore(),
      holdId,
      userId,
      this.#skew(),
      ttlSeconds === undefined ? "" : ttlSeconds,
    ]);
    return decodeExtend(reply, eventId);
  }

  /** Returns the seats; idempotent (`already_released`) for a released hold. */
  async release(eventId: string, holdId: string, userId: string): Promise<ReleaseResult> {
    const reply = await this.#scripts.run("releaseHold", this.#core(eventId), [this.#trimBefore(), holdId, userId, this.#skew()]);
    return decodeRelease(reply, eventId);
  }

  /**
   * HELD and live → SOLD; idempotent (`already_confirmed`) for the same order
   * id. Ends the user's admission session in the event's queue, if active.
   * With `confirmWait`, a sale (new or repeated) that too few replicas
   * acknowledged is `not_replicated` instead.
   */
  async confirm(eventId: string, holdId: string, userId: string, orderId: string): Promise<ConfirmResult> {
    assertId(orderId, 128);
    const queue = queueKeys(this.#prefix, eventId);
    const keys = [...this.#core(eventId), ticketBucketKey(queue, userId), queue.active];
    const args = [this.#trimBefore(), holdId, userId, orderId, this.#skew()];
    if (this.#confirmScripts === undefined) {
      return decodeConfirm(await this.#scripts.run("confirmHold", keys, args), eventId);
    }
    const { reply, acked, replicated } = await this.#confirmScripts.run("confirmHold", keys, args);
    const result = decodeConfirm(reply, eventId);
    if ((result.kind === "confirmed" || result.kind === "already_confirmed") && !replicated) {
      return { kind: "not_replicated", acked, required: this.#confirmScripts.policy.replicas };
    }
    return result;
  }

  /** Any user's hold: the caller checks `hold.userId` when only owners may read. */
  async getHold(eventId: string, holdId: string): Promise<GetHoldResult> {
    const reply = await this.#scripts.run("getHold", this.#core(eventId), [this.#trimBefore(), holdId, this.#skew()]);
    return decodeGetHold(reply, eventId);
  }

  /** Counts for the event, each section and tier; with `section`, its seats' statuses too. */
  async availability(eventId: string, section?: string): Promise<AvailabilityResult> {
    const reply = await this.#scripts.run("getAvailability", this.#withLayout(eventId), [this.#trimBefore(), section ?? "", this.#skew()]);
    return decodeAvailability(reply, eventId, section);
  }

  /**
   * Queues a read of the event's totals on a pipeline of this store's client:
   * capacity, held and sold seats and live holds, or undefined when the event
   * has no seat map. Two plain reads, no sweep: a hold past its expiry counts
   * as held until a script or the reaper expires it.
   */
  queueTotals(pipeline: ChainableCommander, eventId: string): (results: PipelineResults) => SeatTotals | undefined {
    const k = this.keys(eventId);
    const at = pipeline.length;
    pipeline.hmget(k.counts, "e:cap", "e:held", "e:sold");
    pipeline.zcard(k.expiry);
    return (results) => {
      const counts = pipelineReply(results, at);
      const holds = pipelineReply(results, at + 1);
      if (!Array.isArray(counts) || counts.length !== 3 || typeof holds !== "number") {
        throw new Error(`seat totals of ${eventId}: unexpected reply`);
      }
      if (counts[0] === null) {
        return undefined;
      }
      const [capacity, held, sold] = counts.map((c: unknown) => Number(c ?? 0)) as [number, number, number];
      return { capacity, held, sold, holds };
    };
  }

  /** Expires up to `limit` due holds of one event and trims its outbox to the retention. */
  async sweep(eventId: string, limit: number): Promise<SweepResult> {
    const reply = await this.#scripts.run("sweepHolds", this.#core(eventId), [this.#trimBefore(), this.#skew(), limit]);
    return decodeSweepReply("sweepHolds", reply);
  }

  /** Every event with a seat map (an index set, not a key scan). */
  async eventIds(): Promise<string[]> {
    return this.#redis.smembers(seatEventIndexKey(this.#prefix));
  }

  /** ARGV[1] of every script that appends to the outbox. */
  #trimBefore(): string {
    return trimBefore(this.#retentionMs, Date.now() + this.#skew());
  }

  #core(eventId: string): string[] {
    return this.#keyLists(eventId).core;
  }

  #withLayout(eventId: string): string[] {
    return this.#keyLists(eventId).withLayout;
  }
}

/** An event's inventory in four numbers (seats, and live holds). */
export interface SeatTotals {
  readonly capacity: number;
  readonly held: number;
  readonly sold: number;
  readonly holds: number;
}

type SelectionArgs = [kind: "seats" | "ga" | "best", target: string, quantity: number, seatIds: readonly string[]];

function selectionArgs(selection: SeatSelection): SelectionArgs {
  switch (selection.kind) {
    case "seats": {
      const seatIds = [...new Set(selection.seatIds)];
      if (seatIds.length === 0) throw new Error("a seat selection needs at least one seat");
      seatIds.forEach((id) => assertId(id));
      return ["seats", "", 0, seatIds];
    }
    case "general_admission":
      assertId(selection.tier);
      return ["ga", selection.tier, positive(selection.quantity), []];
    case "best_available":
      assertId(selection.section);
      return ["best", selection.section, positive(selection.quantity), []];
  }
}

function positive(quantity: number): number {
  if (!Number.isSafeInteger(quantity) || quantity < 1) {
    throw new Error(`quantity must be a positive integer, got ${quantity}`);
  }
  return quantity;
}
