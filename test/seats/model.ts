import { StoredHoldState as H } from "../../src/redis/outcomes.js";
import type { ConfirmResult, ExtendResult, HoldResult, HoldStateCode, ReleaseResult, SeatMap, SeatSelection } from "../../src/seats/types.js";

/** What the model expects of a result: its kind and the parts worth comparing. */
export type Expected = { kind: string; seatIds?: string[]; n?: number; state?: HoldStateCode };

interface ModelHold {
  readonly id: string;
  readonly user: string;
  state: HoldStateCode;
  readonly seats: readonly string[];
  readonly tier: string;
  readonly quantity: number;
  readonly created: number;
  expires: number;
  order: string;
}

/**
 * An in-memory seat inventory with the store's documented semantics, written
 * independently of the Lua. Time is the model's own clock; due holds expire
 * whenever a script would run (every script sweeps them first).
 */
export class InventoryModel {
  readonly holds = new Map<string, ModelHold>();
  /** seat id -> live (HELD or CONFIRMED) hold id. */
  readonly taken = new Map<string, string>();
  readonly #rows = new Map<string, string[][]>();
  /** "section|row" -> the row's seats. */
  readonly #rowSeats = new Map<string, string[]>();
  readonly #sectionOf = new Map<string, string>();
  readonly #tierCap = new Map<string, number>();
  readonly #ttl: number;
  readonly #maxTtl: number;
  readonly #maxPerUser: number;
  now = 0;

  constructor(map: SeatMap) {
    for (const section of map.sections) {
      this.#rows.set(section.sectionId, section.rows.map((r) => [...r.seatIds]));
      for (const row of section.rows) {
        this.#rowSeats.set(`${section.sectionId}|${row.rowId}`, [...row.seatIds]);
        for (const seat of row.seatIds) this.#sectionOf.set(seat, section.sectionId);
      }
    }
    for (const tier of map.tiers) this.#tierCap.set(tier.tierId, tier.capacity);
    this.#ttl = (map.holdTtlSeconds ?? 600) * 1000;
    this.#maxTtl = (map.maxHoldTtlSeconds ?? 1800) * 1000;
    this.#maxPerUser = map.maxSeatsPerUser ?? 0;
  }

  /** Expires every due hold; returns how many. */
  expireDue(): number {
    let n = 0;
    for (const h of this.holds.values()) {
      if (h.state === H.HELD && h.expires <= this.now) {
        this.#end(h, H.EXPIRED);
        n += 1;
      }
    }
    return n;
  }

  hold(user: string, id: string, selection: SeatSelection): Expected {
    this.expireDue();
    const existing = this.holds.get(id);
    if (existing) return existing.user === user ? { kind: "already_held", state: existing.state } : { kind: "hold_id_taken" };
    let seats: string[] = [];
    let tier = "";
    let quantity: number;
    let scope: { cap: number; used: number } | undefined;
    if (selection.kind === "seats") {
      seats = [...new Set(selection.seatIds)];
      const unknown = seats.filter((s) => !this.#sectionOf.has(s));
      if (unknown.length > 0) return { kind: "unknown_seat", seatIds: unknown };
      quantity = seats.length;
    } else if (selection.kind === "general_admission") {
      const cap = this.#tierCap.get(selection.tier);
      if (cap === undefined) return { kind: "unknown_tier" };
      tier = selection.tier;
      quantity = selection.quantity;
      scope = { cap, used: this.#live().filter((h) => h.tier === tier).reduce((sum, h) => sum + h.quantity, 0) };
    } else {
      const rows = this.#rows.get(selection.section);
      if (!rows) return { kind: "unknown_section" };
      quantity = selection.quantity;
      const all = rows.flat();
      scope = { cap: all.length, used: all.filter((s) => this.taken.has(s)).length };
    }
    const has = this.#live().filter((h) => h.user === user).reduce((sum, h) => sum + h.quantity, 0);
    if (this.#maxPerUser > 0 && has + quantity > this.#maxPerUser) return { kind: "seat_limit_reached", n: Math.max(0, this.#maxPerUser - has) };
    const busy = seats.filter((s) => this.taken.has(s));
    if (busy.length > 0) return { kind: "seat_unavailable", seatIds: busy };
    if (scope && scope.cap - scope.used < quantity) return { kind: "sold_out", n: scope.cap - scope.used };
    if (selection.kind === "best_available") seats = this.#best(selection.section, quantity);
    const h: ModelHold = { id, user, state: H.HELD, seats, tier, quantity, created: this.now, expires: this.now + Math.min(this.#ttl, this.#maxTtl), order: "" };
    this.holds.set(id, h);
    for (const seat of seats) this.taken.set(seat, id);
    return { kind: "held", seatIds: seats, state: H.HELD };
  }

  release(id: string, user: string): Expected {
    const h = this.#owned(id, user);
    if ("kind" in h) return h;
    if (h.state === H.EXPIRED) return { kind: "hold_expired" };
    if (h.state === H.CONFIRMED) return { kind: "hold_confirmed" };
    if (h.state === H.RELEASED) return { kind: "already_released", state: H.RELEASED };
    this.#end(h, H.RELEASED);
    return { kind: "released", state: H.RELEASED };
  }

  confirm(id: string, user: string, order: string): Expected {
    const h = this.#owned(id, user);
    if ("kind" in h) return h;
    if (h.state === H.EXPIRED) return { kind: "hold_expired" };
    if (h.state === H.RELEASED) return { kind: "hold_released" };
    if (h.state === H.CONFIRMED) return h.order === order ? { kind: "already_confirmed", state: H.CONFIRMED } : { kind: "hold_confirmed" };
    h.state = H.CONFIRMED;
    h.order = order;
    return { kind: "confirmed", state: H.CONFIRMED };
  }

  extend(id: string, user: string, ttlSeconds: number | undefined): Expected {
    const h = this.#owned(id, user);
    if ("kind" in h) return h;
    if (h.state === H.EXPIRED) return { kind: "hold_expired" };
    if (h.state === H.RELEASED) return { kind: "hold_released" };
    if (h.state === H.CONFIRMED) return { kind: "hold_confirmed" };
    h.expires = Math.max(h.expires, Math.min(this.now + (ttlSeconds === undefined ? this.#ttl : ttlSeconds * 1000), h.created + this.#maxTtl));
    return { kind: "extended", state: H.HELD };
  }

  /** Counters as the store keeps them: `e:held`, `s:A:sold`, `t:GA:cap`…, and `r:A|1` (the row's available seats). */
  counters(): Record<string, number> {
    const out: Record<string, number> = { "e:cap": 0, "e:held": 0, "e:sold": 0 };
    const add = (scope: string, field: string, n: number): void => {
      out[`${scope}:${field}`] = (out[`${scope}:${field}`] ?? 0) + n;
      out[`e:${field}`] = (out[`e:${field}`] ?? 0) + n;
    };
    for (const [section, rows] of this.#rows) add(`s:${section}`, "cap", rows.flat().length);
    for (const [tier, cap] of this.#tierCap) add(`t:${tier}`, "cap", cap);
    for (const scope of [...[...this.#rows.keys()].map((s) => `s:${s}`), ...[...this.#tierCap.keys()].map((t) => `t:${t}`)]) {
      add(scope, "held", 0);
      add(scope, "sold", 0);
    }
    for (const h of this.#live()) {
      const field = h.state === H.HELD ? "held" : "sold";
      if (h.tier !== "") add(`t:${h.tier}`, field, h.quantity);
      for (const seat of h.seats) add(`s:${this.#sectionOf.get(seat)}`, field, 1);
    }
    for (const [row, seats] of this.#rowSeats) out[`r:${row}`] = seats.filter((s) => !this.taken.has(s)).length;
    return out;
  }

  /** The `taken` hash as the store keeps it. */
  marks(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [seat, id] of this.taken) out[seat] = `${this.holds.get(id)?.state === H.HELD ? "H" : "S"}${id}`;
    return out;
  }

  holdIds(): string[] {
    return [...this.holds.keys()];
  }

  stateOf(id: string): HoldStateCode | undefined {
    return this.holds.get(id)?.state;
  }

  userOf(id: string): string | undefined {
    return this.holds.get(id)?.user;
  }

  #live(): ModelHold[] {
    return [...this.holds.values()].filter((h) => h.state === H.HELD || h.state === H.CONFIRMED);
  }

  #owned(id: string, user: string): ModelHold | Expected {
    this.expireDue();
    const h = this.holds.get(id);
    if (!h) return { kind: "hold_not_found" };
    return h.user === user ? h : { kind: "not_hold_owner" };
  }

  #end(h: ModelHold, state: HoldStateCode): void {
    h.state = state;
    for (const seat of h.seats) this.taken.delete(seat);
  }

  /** The documented rule: front-most leftmost run, else fewest blocks (largest first, ties front then left). */
  #best(section: string, quantity: number): string[] {
    const rows = this.#rows.get(section) ?? [];
    const runs: Array<{ r: number; start: number; len: number }> = [];
    for (const [r, seats] of rows.entries()) {
      let start = -1;
      for (let i = 0; i <= seats.length; i++) {
        const free = i < seats.length && !this.taken.has(seats[i] as string);
        if (free && start < 0) start = i;
        if (!free && start >= 0) {
          if (i - start >= quantity) return seats.slice(start, start + quantity);
          runs.push({ r, start, len: i - start });
          start = -1;
        }
      }
    }
    runs.sort((a, b) => b.len - a.len || a.r - b.r || a.start - b.start);
    const chosen: typeof runs = [];
    let need = quantity;
    for (const run of runs) {
      if (need === 0) break;
      const len = Math.min(run.len, need);
      chosen.push({ ...run, len });
      need -= len;
    }
    chosen.sort((a, b) => a.r - b.r || a.start - b.start);
    return chosen.flatMap((run) => (rows[run.r] as string[]).slice(run.start, run.start + run.len));
  }
}

/** The comparable parts of a store result. */
export function observed(result: HoldResult | ReleaseResult | ConfirmResult | ExtendResult): Expected {
  switch (result.kind) {
    case "held":
      return { kind: result.kind, seatIds: result.hold.seats.map((s) => s.seatId), state: result.hold.state };
    case "already_held":
    case "released":
    case "already_released":
    case "confirmed":
    case "already_confirmed":
    case "extended":
      return { kind: result.kind, state: result.hold.state };
    case "unknown_seat":
    case "seat_unavailable":
      return { kind: result.kind, seatIds: [...result.seatIds] };
    case "sold_out":
      return { kind: result.kind, n: result.available };
    case "seat_limit_reached":
      return { kind: result.kind, n: result.remaining };
    default:
      return { kind: result.kind };
  }
}
