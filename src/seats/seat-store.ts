import type { Redis } from "ioredis";
import { checkRetention, trimBefore } from "../redis/event-log.js";
import { decodeSweepReply, type SweepResult } from "../redis/event-sweeper.js";
import type { ScriptObserver } from "../observe/script-observer.js";
import { ScriptRunner } from "../redis/script-loader.js";
import { memoByKey } from "../util/memo.js";
import { queueKeys } from "../queue/keys.js";
import { decodeAvailability, decodeLoad } from "./decode-inventory.js";
import { decodeConfirm, decodeExtend, decodeGetHold, decodeHold, decodeRelease } from "./decode.js";
import { seatEventIndexKey, seatKeys, type SeatKeys } from "./keys.js";
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
  readonly loadRedis?: Redis;
  /** Sees every script call (tracing, metrics); undefined: none. */
  readonly scriptObserver?: ScriptObserver;
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
  readonly #redis: Redis;
  readonly #scripts: ScriptRunner<SeatScriptName>;
  readonly #loadRedis: Redis;
  readonly #loadScripts: ScriptRunner<SeatScriptName>;
  readonly #prefix: string;
  readonly #skew: () => number;
  readonly #retentionMs: number;
  /** Per event: the keys every seat script takes, those plus the layout, and the hold script's. */
  readonly #keyLists: (eventId: string) => { readonly core: string[]; readonly withLayout: string[]; readonly hold: string[] };

  constructor(redis: Redis, options: SeatStoreOptions = {}) {
    this.#redis = redis;
    const scripts = loadSeatScripts();
    this.#scripts = new ScriptRunner(redis, scripts, options.scriptObserver);
    this.#loadRedis = options.loadRedis ?? redis;
    this.#loadScripts = options.loadRedis ? new ScriptRunner(options.loadRedis, scripts, options.scriptObserver) : this.#scripts;
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
   * reaper walks, in the same pipeline. Check the map with `validateSeatMap`
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
    const pipeline = this.#loadRedis.pipeline();
    this.#loadScripts.queue(pipeline, "loadSeatMap", this.#withLayout(eventId), args);
    pipeline.sadd(seatEventIndexKey(this.#prefix), eventId);
    const results = await pipeline.exec();
    const [scriptError, reply] = results?.[0] ?? [new Error("pipeline returned nothing"), undefined];
    if (scriptError) {
      throw scriptError;
    }
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
   */
  async hold(
    eventId: string,
    userId: string,
    holdId: string,
    selection: SeatSelection,
    options: { readonly passVerified?: boolean } = {},
  ): Promise<HoldResult> {
    assertId(userId);
    assertId(holdId);
    const [kind, target, quantity, seatIds] = selectionArgs(selection);
    const reply = await this.#scripts.run("holdSeats", this.#keyLists(eventId).hold, [
      this.#trimBefore(),
      holdId,
      userId,
      this.#skew(),
      options.passVerified ? "1" : "0",
      kind,
      target,
      quantity,
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
   */
  async confirm(eventId: string, holdId: string, userId: string, orderId: string): Promise<ConfirmResult> {
    assertId(orderId, 128);
    const queue = queueKeys(this.#prefix, eventId);
    const reply = await this.#scripts.run("confirmHold", [...this.#core(eventId), queue.tickets, queue.active], [
      this.#trimBefore(),
      holdId,
      userId,
      orderId,
      this.#skew(),
    ]);
    return decodeConfirm(reply, eventId);
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
