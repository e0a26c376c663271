import type { Redis } from "ioredis";
import { expect } from "vitest";
import { StoredHoldState as H } from "../../src/redis/outcomes.js";
import type { SeatKeys } from "../../src/seats/keys.js";

interface HoldRecord {
  readonly id: string;
  readonly state: number;
  readonly user: string;
  readonly expires: number;
  readonly quantity: number;
  readonly tier: string;
  readonly seats: readonly string[];
}

const RECORD = /^(\d+)\|([^|]*)\|(\d+)\|(\d+)\|(\d+)\|([^|]*)\|([^|]*)\|(.*)$/;

/**
 * Reads an event's inventory straight from Redis in one MULTI (a consistent
 * snapshot, like any reader's) and recounts it from the per-seat state and
 * the hold records. Returns every violation found; empty means:
 * available + held + sold = capacity with available >= 0 for the event, each
 * section and each tier, counters equal to the recount, no seat in two holds,
 * no seat sold twice, each row's available counter equal to its free seats,
 * the expiry index holding exactly the HELD holds, and per-user totals
 * matching the holds.
 */
export async function inventoryProblems(redis: Redis, k: SeatKeys): Promise<string[]> {
  const results = await redis
    .multi()
    .hgetall(k.config)
    .hgetall(k.layout)
    .hgetall(k.seats)
    .hgetall(k.taken)
    .hgetall(k.holds)
    .hgetall(k.users)
    .hgetall(k.counts)
    .zrange(k.expiry, 0, "-1", "WITHSCORES")
    .exec();
  if (!results) throw new Error("transaction aborted");
  const [config, layout, seats, taken, rawHolds, users, counts] = results.slice(0, 7).map(([, v]) => v as Record<string, string>) as [
    Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>,
    Record<string, string>, Record<string, string>, Record<string, string>,
  ];
  const expiryFlat = results[7]?.[1] as string[];
  const problems: string[] = [];
  const fail = (text: string): void => void problems.push(text);

  const holds = new Map<string, HoldRecord>();
  for (const [id, raw] of Object.entries(rawHolds)) {
    const m = RECORD.exec(raw);
    if (!m) {
      fail(`hold ${id}: bad record ${raw}`);
      continue;
    }
    holds.set(id, { id, state: Number(m[1]), user: m[2]!, expires: Number(m[4]), quantity: Number(m[5]), tier: m[6]!, seats: m[8] ? m[8].split(",") : [] });
  }

  // Per-seat recount, sections from the layout (not from the seats hash).
  const recount = new Map<string, { cap: number; held: number; sold: number }>();
  const sectionOf = new Map<string, string>();
  for (const section of (config["sections"] ?? "").split(",").filter(Boolean)) {
    const scope = { cap: 0, held: 0, sold: 0 };
    recount.set(`s:${section}`, scope);
    for (const rowId of (layout[section] ?? "").split(",").filter(Boolean)) {
      let rowFree = 0;
      for (const seat of (layout[`${section}|${rowId}`] ?? "").split(",").filter(Boolean)) {
        scope.cap += 1;
        sectionOf.set(seat, section);
        if (seats[seat] !== `${section}|${rowId}`) fail(`seat ${seat}: place ${seats[seat]}, layout says ${section}|${rowId}`);
        const mark = taken[seat];
        if (mark?.startsWith("H")) scope.held += 1;
        else if (mark?.startsWith("S")) scope.sold += 1;
        else if (mark !== undefined) fail(`seat ${seat}: bad mark ${mark}`);
        else rowFree += 1;
      }
      const counted = counts[`r:${section}|${rowId}`];
      if (Number(counted) !== rowFree) fail(`row ${section}|${rowId}: ${counted} available counted, recount ${rowFree}`);
    }
  }
  if (Object.keys(seats).length !== sectionOf.size) fail(`seats hash has ${Object.keys(seats).length} seats, layout ${sectionOf.size}`);

  // Holds against seats: every live hold's seats carry its mark, no seat in two live holds.
  const owner = new Map<string, string>();
  const perUser = new Map<string, number>();
  const tiers = new Map<string, { held: number; sold: number }>();
  for (const h of holds.values()) {
    const live = h.state === H.HELD || h.state === H.CONFIRMED;
    if (h.tier === "" && h.quantity !== h.seats.length) fail(`hold ${h.id}: quantity ${h.quantity} for ${h.seats.length} seats`);
    if (!live) continue;
    perUser.set(h.user, (perUser.get(h.user) ?? 0) + h.quantity);
    if (h.tier !== "") {
      const t = tiers.get(h.tier) ?? { held: 0, sold: 0 };
      if (h.state === H.HELD) t.held += h.quantity;
      else t.sold += h.quantity;
      tiers.set(h.tier, t);
    }
    const mark = `${h.state === H.HELD ? "H" : "S"}${h.id}`;
    for (const seat of h.seats) {
      if (owner.has(seat)) fail(`seat ${seat} in holds ${owner.get(seat)} and ${h.id}`);
      owner.set(seat, h.id);
      if (taken[seat] !== mark) fail(`seat ${seat} of hold ${h.id} is marked ${taken[seat]}, expected ${mark}`);
    }
  }
  for (const [seat, mark] of Object.entries(taken)) {
    if (owner.get(seat) !== mark.slice(1)) fail(`seat ${seat} marked ${mark} but not in that live hold`);
  }
  for (const tier of (config["tiers"] ?? "").split(",").filter(Boolean)) {
    const t = tiers.get(tier) ?? { held: 0, sold: 0 };
    recount.set(`t:${tier}`, { cap: Number(counts[`t:${tier}:cap`]), ...t });
  }

  // Counters against the recount, and the identity for every scope and the event.
  const event = { cap: 0, held: 0, sold: 0 };
  for (const [scope, r] of recount) {
    for (const field of ["cap", "held", "sold"] as const) {
      if (Number(counts[`${scope}:${field}`]) !== r[field]) fail(`${scope}:${field} = ${counts[`${scope}:${field}`]}, recount ${r[field]}`);
      event[field] += r[field];
    }
    if (r.cap - r.held - r.sold < 0) fail(`${scope}: available ${r.cap - r.held - r.sold} < 0`);
  }
  for (const field of ["cap", "held", "sold"] as const) {
    if (Number(counts[`e:${field}`] ?? 0) !== event[field]) fail(`e:${field} = ${counts[`e:${field}`]}, recount ${event[field]}`);
  }

  // The expiry index is exactly the HELD holds, at their expiry.
  const indexed = new Map<string, number>();
  for (let i = 0; i < expiryFlat.length; i += 2) indexed.set(expiryFlat[i]!, Number(expiryFlat[i + 1]));
  for (const h of holds.values()) {
    if (h.state === H.HELD && indexed.get(h.id) !== h.expires) fail(`HELD hold ${h.id} indexed at ${indexed.get(h.id)}, expires ${h.expires}`);
    if (h.state !== H.HELD && indexed.has(h.id)) fail(`ended hold ${h.id} still in the expiry index`);
  }
  for (const id of indexed.keys()) if (!holds.has(id)) fail(`expiry index names unknown hold ${id}`);

  for (const [user, n] of Object.entries(users)) if (perUser.get(user) !== Number(n)) fail(`user ${user}: ${n} counted, holds say ${perUser.get(user)}`);
  for (const [user, n] of perUser) if (n > 0 && users[user] === undefined) fail(`user ${user} holds ${n} but has no count`);
  return problems;
}

export async function expectConsistent(redis: Redis, k: SeatKeys): Promise<void> {
  expect(await inventoryProblems(redis, k)).toEqual([]);
}
