import pino from "pino";
import { expect, it, onTestFinished } from "vitest";
import { StoredHoldState as H, StoredSeatStatus as S } from "../../src/redis/outcomes.js";
import { parseSeatChange } from "../../src/seats/changes.js";
import { EventSweeper } from "../../src/redis/event-sweeper.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import type { SeatMap, SeatSelection } from "../../src/seats/types.js";
import { connectRedis, uniqueId } from "../support/redis.js";
import { mulberry32 } from "../support/prng.js";
import { smallMap } from "./fixtures.js";
import { expectConsistent } from "./invariant.js";
import { InventoryModel, observed } from "./model.js";

// Clock steps of 25 s against a 60 s TTL, 30/110 s extensions and a 140 s
// cap keep every expiry at least 5 s away from any step. The scripts' clock
// is pinned to the model's (real time elapsed is subtracted from the skew),
// so the time the test itself takes cannot move a hold across its expiry.
const STEP_MS = 25_000;
const MAP: SeatMap = smallMap({ holdTtlSeconds: 60, maxHoldTtlSeconds: 140, maxSeatsPerUser: 6 });
const USERS = ["u0", "u1", "u2", "u3", "u4"];
const ALL_SEATS = MAP.sections.flatMap((s) => s.rows.flatMap((r) => r.seatIds));

for (const seed of [1, 2, 3, 4]) {
  it(`matches an in-memory inventory through random holds, releases, confirms, extends and expiries (seed ${seed})`, async () => {
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    const model = new InventoryModel(MAP);
    const started = Date.now();
    const store = new SeatStore(redis, { keyPrefix: `${uniqueId("p")}:`, clockSkewMs: () => model.now - (Date.now() - started) });
    const reaper = new EventSweeper(store, { intervalMs: 60_000, batch: 4, what: "seat holds", logger: pino({ level: "silent" }) });
    const eventId = uniqueId();
    const k = store.keys(eventId);
    await store.loadSeatMap(eventId, MAP);

    const random = mulberry32(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const int = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));
    const selection = (): SeatSelection => {
      const roll = random();
      if (roll < 0.4) {
        const seatIds = Array.from({ length: int(1, 3) }, () => pick(ALL_SEATS));
        if (random() < 0.05) seatIds.push("no-such-seat");
        return { kind: "seats", seatIds };
      }
      if (roll < 0.7) return { kind: "general_admission", tier: random() < 0.05 ? "NOPE" : pick(["GA", "VIP"]), quantity: int(1, 3) };
      return { kind: "best_available", section: random() < 0.05 ? "NOPE" : pick(["A", "B"]), quantity: int(1, 4) };
    };
    // An existing hold (often a live one), sometimes asked for by someone else, or a made-up id.
    const target = (): { id: string; user: string } => {
      const ids = model.holdIds();
      if (ids.length === 0 || random() < 0.05) return { id: "no-such-hold", user: pick(USERS) };
      const live = ids.filter((id) => model.stateOf(id) === H.HELD);
      const id = live.length > 0 && random() < 0.5 ? pick(live) : pick(ids);
      return { id, user: random() < 0.1 ? pick(USERS) : (model.userOf(id) as string) };
    };

    for (let step = 0; step < 300; step++) {
      const roll = random();
      const at = `seed ${seed} step ${step}`;
      if (roll < 0.4) {
        const user = pick(USERS);
        const reuse = model.holdIds().length > 0 && random() < 0.05;
        const id = reuse ? pick(model.holdIds()) : `h${step}`;
        const wanted = selection();
        const expected = model.hold(user, id, wanted);
        expect(observed(await store.hold(eventId, user, id, wanted)), `${at} hold ${JSON.stringify(wanted)}`).toEqual(expected);
      } else if (roll < 0.55) {
        const { id, user } = target();
        expect(observed(await store.release(eventId, id, user)), `${at} release ${id}`).toEqual(model.release(id, user));
      } else if (roll < 0.7) {
        const { id, user } = target();
        const order = pick(["order-1", "order-2"]);
        expect(observed(await store.confirm(eventId, id, user, order)), `${at} confirm ${id}`).toEqual(model.confirm(id, user, order));
      } else if (roll < 0.8) {
        const { id, user } = target();
        const ttl = pick([undefined, 30, 110]);
        expect(observed(await store.extend(eventId, id, user, ttl)), `${at} extend ${id}`).toEqual(model.extend(id, user, ttl));
      } else if (roll < 0.95) {
        model.now += STEP_MS;
        if (random() < 0.5) {
          expect(await reaper.sweepAll(), `${at} reaper`).toBe(model.expireDue());
        }
      } else {
        const { id } = target();
        const result = await store.getHold(eventId, id);
        model.expireDue();
        expect(result.kind === "hold" ? result.hold.state : result.kind, `${at} get ${id}`).toEqual(model.stateOf(id) ?? "hold_not_found");
      }
      // Raw Redis against the model (no script runs here, so unswept expiries stay unswept on both sides).
      expect(await redis.hgetall(k.taken), `${at} seats`).toEqual(model.marks());
      expect(numbers(await redis.hgetall(k.counts)), `${at} counters`).toEqual(model.counters());
      await expectConsistent(redis, k);
    }

    // The outbox alone rebuilds the seat map and the tier counts.
    const status = new Map<string, number>();
    const tiers = new Map<string, { held: number; sold: number }>();
    for (const [, fields] of await redis.xrange(k.log, "-", "+")) {
      const change = parseSeatChange(fields);
      if (!change) continue;
      for (const seat of change.seats) status.set(seat.seatId, change.status);
      if (change.tier !== undefined) {
        const t = tiers.get(change.tier) ?? { held: 0, sold: 0 };
        if (change.type === "seat.held") t.held += change.quantity;
        else t.held -= change.quantity;
        if (change.type === "seat.confirmed") t.sold += change.quantity;
        tiers.set(change.tier, t);
      }
    }
    const marks = model.marks();
    for (const seat of ALL_SEATS) {
      const expected = marks[seat] === undefined ? S.AVAILABLE : marks[seat]?.startsWith("H") ? S.HELD : S.SOLD;
      expect(status.get(seat) ?? S.AVAILABLE, `outbox status of ${seat}`).toBe(expected);
    }
    const counters = model.counters();
    for (const [tier, t] of tiers) {
      expect(t, `outbox counts of ${tier}`).toEqual({ held: counters[`t:${tier}:held`], sold: counters[`t:${tier}:sold`] });
    }
  });
}

function numbers(record: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, Number(value)]));
}
