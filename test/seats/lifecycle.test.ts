import { describe, expect, it } from "vitest";
import { StoredHoldState as H, StoredSeatStatus as S } from "../../src/redis/outcomes.js";
import { parseSeatChange } from "../../src/seats/changes.js";
import { held, outbox, seatFixture, seatIdsOf, smallMap, type SeatFixture } from "./fixtures.js";
import { expectConsistent } from "./invariant.js";

const TTL_MS = 600_000;

async function withHold(overrides: Parameters<typeof smallMap>[0] = {}): Promise<SeatFixture> {
  const f = seatFixture();
  await f.store.loadSeatMap(f.eventId, smallMap(overrides));
  held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1", "A-R1-2"] }));
  return f;
}

describe("extendHold", () => {
  it("moves the expiry to now + ttl, never past the maximum lifetime", async () => {
    const f = await withHold({ maxHoldTtlSeconds: 900 });
    const first = held(await f.store.hold(f.eventId, "u1", "h2", { kind: "general_admission", tier: "GA", quantity: 1 }));
    f.advance(100_000);
    const extended = await f.store.extend(f.eventId, "h2", "u1", 300);
    if (extended.kind !== "extended") throw new Error(extended.kind);
    expect(extended.hold.expiresAtMs).toBeGreaterThanOrEqual(first.createdAtMs + 400_000);
    expect(extended.hold.expiresAtMs).toBeLessThan(first.createdAtMs + 900_000);
    f.advance(250_000);
    expect(await f.store.extend(f.eventId, "h2", "u1")).toMatchObject({
      kind: "extended",
      hold: { state: H.HELD, expiresAtMs: first.createdAtMs + 900_000 },
    });
    expect(await f.redis.zscore(f.store.keys(f.eventId).expiry, "h2")).toBe(String(first.createdAtMs + 900_000));
    // A shorter ttl never brings the expiry sooner.
    expect(await f.store.extend(f.eventId, "h2", "u1", 1)).toMatchObject({ hold: { expiresAtMs: first.createdAtMs + 900_000 } });
    f.advance(550_000);
    expect(await f.store.extend(f.eventId, "h2", "u1")).toEqual({ kind: "hold_expired" });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("covers every refusal", async () => {
    const f = await withHold();
    expect(await f.store.extend(`${f.eventId}-x`, "h1", "u1")).toEqual({ kind: "event_not_found" });
    expect(await f.store.extend(f.eventId, "nope", "u1")).toEqual({ kind: "hold_not_found" });
    expect(await f.store.extend(f.eventId, "h1", "u2")).toEqual({ kind: "not_hold_owner" });
    await f.store.release(f.eventId, "h1", "u1");
    expect(await f.store.extend(f.eventId, "h1", "u1")).toEqual({ kind: "hold_released" });
    held(await f.store.hold(f.eventId, "u1", "h2", { kind: "general_admission", tier: "GA", quantity: 1 }));
    await f.store.confirm(f.eventId, "h2", "u1", "o-1");
    expect(await f.store.extend(f.eventId, "h2", "u1")).toEqual({ kind: "hold_confirmed" });
  });
});

describe("releaseHold", () => {
  it("returns the seats, is idempotent, and leaves confirmed and expired holds alone", async () => {
    const f = await withHold();
    expect(await f.store.release(`${f.eventId}-x`, "h1", "u1")).toEqual({ kind: "event_not_found" });
    expect(await f.store.release(f.eventId, "nope", "u1")).toEqual({ kind: "hold_not_found" });
    expect(await f.store.release(f.eventId, "h1", "u2")).toEqual({ kind: "not_hold_owner" });
    const released = await f.store.release(f.eventId, "h1", "u1");
    expect(released).toMatchObject({ kind: "released", hold: { state: H.RELEASED, quantity: 2 } });
    expect(await f.store.release(f.eventId, "h1", "u1")).toMatchObject({ kind: "already_released", hold: { state: H.RELEASED } });
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-1", "A-R1-2"] }));

    held(await f.store.hold(f.eventId, "u1", "h3", { kind: "general_admission", tier: "GA", quantity: 2 }));
    await f.store.confirm(f.eventId, "h3", "u1", "o-1");
    expect(await f.store.release(f.eventId, "h3", "u1")).toEqual({ kind: "hold_confirmed" });
    f.advance(TTL_MS);
    expect(await f.store.release(f.eventId, "h2", "u2")).toEqual({ kind: "hold_expired" });
    expect(await f.store.availability(f.eventId)).toMatchObject({ availability: { event: { held: 0, sold: 2 } } });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });
});

describe("confirmHold", () => {
  it("sells a live hold once per order id and refuses another order id", async () => {
    const f = await withHold();
    const confirmed = await f.store.confirm(f.eventId, "h1", "u1", "order-1");
    if (confirmed.kind !== "confirmed") throw new Error(confirmed.kind);
    expect(confirmed.hold).toMatchObject({ state: H.CONFIRMED, orderId: "order-1", quantity: 2 });
    expect(await f.store.confirm(f.eventId, "h1", "u1", "order-1")).toEqual({ kind: "already_confirmed", hold: confirmed.hold });
    expect(await f.store.confirm(f.eventId, "h1", "u1", "order-2")).toEqual({ kind: "hold_confirmed" });
    f.advance(2 * TTL_MS);
    expect(await f.store.getHold(f.eventId, "h1")).toEqual({ kind: "hold", hold: confirmed.hold });
    const result = await f.store.availability(f.eventId, "A");
    if (result.kind !== "availability") throw new Error(result.kind);
    expect(result.availability.seats.slice(0, 3).map((s) => s.status)).toEqual([S.SOLD, S.SOLD, S.AVAILABLE]);
    expect(result.availability.sections[0]?.counts).toEqual({ capacity: 18, available: 16, held: 0, sold: 2 });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("never confirms an expired hold, even while its seats are still free", async () => {
    const f = await withHold();
    f.advance(TTL_MS);
    expect(await f.store.confirm(f.eventId, "h1", "u1", "order-1")).toEqual({ kind: "hold_expired" });
    const result = await f.store.availability(f.eventId, "A");
    expect(result).toMatchObject({ availability: { event: { held: 0, sold: 0 } } });
    expect(await f.store.confirm(f.eventId, "h1", "u1", "order-1")).toEqual({ kind: "hold_expired" });
  });

  it("covers the other refusals", async () => {
    const f = await withHold();
    expect(await f.store.confirm(`${f.eventId}-x`, "h1", "u1", "o")).toEqual({ kind: "event_not_found" });
    expect(await f.store.confirm(f.eventId, "nope", "u1", "o")).toEqual({ kind: "hold_not_found" });
    expect(await f.store.confirm(f.eventId, "h1", "u2", "o")).toEqual({ kind: "not_hold_owner" });
    await f.store.release(f.eventId, "h1", "u1");
    expect(await f.store.confirm(f.eventId, "h1", "u1", "o")).toEqual({ kind: "hold_released" });
  });
});

describe("getHold and getAvailability", () => {
  it("report a HELD hold past its expiry as EXPIRED, and unknown events, holds and sections", async () => {
    const f = await withHold();
    expect(await f.store.getHold(f.eventId, "h1")).toMatchObject({ kind: "hold", hold: { state: H.HELD, userId: "u1" } });
    expect(await f.store.getHold(f.eventId, "nope")).toEqual({ kind: "hold_not_found" });
    expect(await f.store.getHold(`${f.eventId}-x`, "h1")).toEqual({ kind: "event_not_found" });
    expect(await f.store.availability(`${f.eventId}-x`)).toEqual({ kind: "event_not_found" });
    expect(await f.store.availability(f.eventId, "Q")).toEqual({ kind: "unknown_section" });
    f.advance(TTL_MS);
    expect(await f.store.getHold(f.eventId, "h1")).toMatchObject({ kind: "hold", hold: { state: H.EXPIRED } });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("lists a section's seats row by row with their status", async () => {
    const f = await withHold();
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["B-R2-1"] }));
    await f.store.confirm(f.eventId, "h2", "u2", "o-2");
    const result = await f.store.availability(f.eventId, "B");
    if (result.kind !== "availability") throw new Error(result.kind);
    expect(result.availability.seats.map((s) => `${s.row}:${s.seatId}:${s.status}`)).toEqual([
      "R1:B-R1-1:1", "R1:B-R1-2:1", "R1:B-R1-3:1", "R1:B-R1-4:1",
      "R2:B-R2-1:3", "R2:B-R2-2:1", "R2:B-R2-3:1", "R2:B-R2-4:1",
    ]);
    expect(result.availability.event).toEqual({ capacity: 38, available: 35, held: 2, sold: 1 });
  });
});

describe("expiry", () => {
  it("returns expired seats through the reaper while nobody calls the event", async () => {
    const f = await withHold({ holdTtlSeconds: 60 });
    const other = `${f.eventId}-2`;
    await f.store.loadSeatMap(other, smallMap({ holdTtlSeconds: 60 }));
    for (let i = 0; i < 9; i++) held(await f.store.hold(other, `u${i}`, `g${i}`, { kind: "general_admission", tier: "GA", quantity: 1 }));
    expect(await f.reaper.sweepAll()).toBe(0);
    f.advance(60_000);
    expect(await f.reaper.sweepAll()).toBe(10);
    // Read Redis directly: no script has touched either event since the clock moved.
    const k = f.store.keys(f.eventId);
    expect(await f.redis.hget(k.counts, "e:held")).toBe("0");
    expect(await f.redis.hlen(k.taken)).toBe(0);
    expect(await f.redis.hget(f.store.keys(other).counts, "t:GA:held")).toBe("0");
    await expectConsistent(f.redis, k);
    await expectConsistent(f.redis, f.store.keys(other));
    const expired = (await outbox(f)).filter((e) => e.type === "seat.expired");
    expect(expired).toEqual([{ type: "seat.expired", hold: "h1", user: "u1", seats: "A|R1|A-R1-1,A|R1|A-R1-2", tier: "", quantity: "2" }]);
    expect(await f.reaper.sweepAll()).toBe(0);
  });

  it("lets someone else hold the seats after expiry, and the late owner confirm nothing", async () => {
    const f = await withHold();
    f.advance(TTL_MS);
    const next = held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-2", "A-R1-1"] }));
    expect(seatIdsOf(next)).toEqual(["A-R1-2", "A-R1-1"]);
    expect(await f.store.confirm(f.eventId, "h1", "u1", "o-1")).toEqual({ kind: "hold_expired" });
    expect(await f.store.confirm(f.eventId, "h2", "u2", "o-2")).toMatchObject({ kind: "confirmed" });
    await expectConsistent(f.redis, f.store.keys(f.eventId));
  });

  it("sweeps in bounded batches and reports more", async () => {
    const f = await withHold({ holdTtlSeconds: 60 });
    for (let i = 0; i < 4; i++) held(await f.store.hold(f.eventId, `u${i}`, `g${i}`, { kind: "general_admission", tier: "GA", quantity: 1 }));
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 0, more: false });
    f.advance(60_000);
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 2, more: true });
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 2, more: true });
    expect(await f.store.sweep(f.eventId, 2)).toEqual({ kind: "swept", expired: 1, more: false });
    expect(await f.store.sweep(`${f.eventId}-x`, 2)).toEqual({ kind: "event_not_found" });
  });
});

describe("outbox", () => {
  it("records every change with what a seat-map watcher needs", async () => {
    const f = await withHold({ holdTtlSeconds: 60 });
    await f.store.confirm(f.eventId, "h1", "u1", "order-9");
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "general_admission", tier: "VIP", quantity: 2 }));
    await f.store.release(f.eventId, "h2", "u2");
    held(await f.store.hold(f.eventId, "u3", "h3", { kind: "seats", seatIds: ["B-R1-1"] }));
    f.advance(60_000);
    await f.reaper.sweepAll();
    await f.redis.xadd(f.store.keys(f.eventId).log, "*", "type", "queue.joined", "user", "u9", "seq", "1");

    const entries = await f.redis.xrange(f.store.keys(f.eventId).log, "-", "+");
    const changes = entries.map(([, fields]) => parseSeatChange(fields));
    expect(changes.map((c) => c && [c.type, c.holdId, c.userId, c.status, c.quantity])).toEqual([
      undefined,
      ["seat.held", "h1", "u1", S.HELD, 2],
      ["seat.confirmed", "h1", "u1", S.SOLD, 2],
      ["seat.held", "h2", "u2", S.HELD, 2],
      ["seat.released", "h2", "u2", S.AVAILABLE, 2],
      ["seat.held", "h3", "u3", S.HELD, 1],
      ["seat.expired", "h3", "u3", S.AVAILABLE, 1],
      undefined,
    ]);
    expect(changes[2]).toMatchObject({
      seats: [
        { seatId: "A-R1-1", section: "A", row: "R1" },
        { seatId: "A-R1-2", section: "A", row: "R1" },
      ],
      tier: undefined,
      orderId: "order-9",
    });
    expect(changes[4]).toMatchObject({ seats: [], tier: "VIP" });
    expect(changes[5]?.expiresAtMs).toEqual(expect.any(Number));
  });
});

describe("seat changes", () => {
  it("skip the entries that change no seat's status: an extension, a loaded map", async () => {
    const f = await withHold({ holdTtlSeconds: 60 });
    f.advance(10_000);
    expect((await f.store.extend(f.eventId, "h1", "u1")).kind).toBe("extended");
    const entries = await f.redis.xrange(f.store.keys(f.eventId).log, "-", "+");
    expect(entries.map(([, fields]) => fields[1])).toEqual(["seat.map_loaded", "seat.held", "seat.extended"]);
    expect(entries.map(([, fields]) => parseSeatChange(fields)?.type)).toEqual([undefined, "seat.held", undefined]);
  });
});

describe("availability cursor", () => {
  it("marks where the snapshot stands in the outbox, so a watcher resumes without gaps", async () => {
    const f = seatFixture();
    const log = f.store.keys(f.eventId).log;
    await f.store.loadSeatMap(f.eventId, smallMap());
    const [loaded] = await f.redis.xrevrange(log, "+", "-", "COUNT", 1);
    expect(await f.store.availability(f.eventId)).toMatchObject({ availability: { cursor: loaded?.[0] } });
    held(await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }));
    const snapshot = await f.store.availability(f.eventId, "A");
    if (snapshot.kind !== "availability") throw new Error(snapshot.kind);
    const [newest] = await f.redis.xrevrange(log, "+", "-", "COUNT", 1);
    expect(snapshot.availability.cursor).toBe(newest?.[0]);
    held(await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-2"] }));
    const after = await f.redis.xrange(log, `(${snapshot.availability.cursor}`, "+");
    expect(after.map(([, fields]) => parseSeatChange(fields)?.holdId)).toEqual(["h2"]);
  });
});
