import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { StoredSeatStatus as S } from "../../src/redis/outcomes.js";
import { availabilityWatch, type AvailabilityHub } from "../../src/seats/availability-loop.js";
import { OutboxReader } from "../../src/watch/outbox-reader.js";
import { WatchHub } from "../../src/watch/watch-hub.js";
import { AvailabilityWatcher, type AvailabilityItem } from "../../src/seats/availability-watcher.js";
import type { AvailabilityView, SeatStatusCode } from "../../src/seats/types.js";
import { grid, seatFixture } from "./fixtures.js";

function watchOf(f: ReturnType<typeof seatFixture>, intervalMs = 20): { hub: AvailabilityHub; reader: OutboxReader } {
  const logger = pino({ level: "silent" });
  const reader = new OutboxReader(f.redis, { keyPrefix: f.prefix, intervalMs, maxEntriesPerRead: 1000, logger });
  onTestFinished(() => reader.close());
  return { hub: new WatchHub(reader, availabilityWatch(f.store, { logger })), reader };
}

function hubOf(f: ReturnType<typeof seatFixture>): AvailabilityHub {
  return watchOf(f).hub;
}

function reader(stream: AsyncGenerator<AvailabilityItem>) {
  return async (): Promise<AvailabilityItem> => {
    const r = await stream.next();
    if (r.done) throw new Error("stream ended");
    return r.value;
  };
}

describe("AvailabilityHub", () => {
  it("filters seat changes by section and reports general-admission changes as counts only", async () => {
    const f = seatFixture();
    const hub = hubOf(f);
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 3), grid("B", 1, 3)], tiers: [{ tierId: "ga", capacity: 10 }] });
    const a = reader(hub.watch(f.eventId, "A", new AbortController().signal));
    const all = reader(hub.watch(f.eventId, undefined, new AbortController().signal));
    expect(await a()).toMatchObject({ kind: "update", availability: { seats: [{ seatId: "A-R1-1" }, { seatId: "A-R1-2" }, { seatId: "A-R1-3" }] } });
    expect(await all()).toMatchObject({ kind: "update", availability: { seats: [] }, changes: [] });

    await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["B-R1-2"] });
    const everything = await all();
    expect(everything).toMatchObject({ kind: "update", changes: [{ seatId: "B-R1-2", section: "B", status: S.HELD }] });
    await f.store.hold(f.eventId, "u2", "h2", { kind: "general_admission", tier: "ga", quantity: 4 });
    await f.store.hold(f.eventId, "u3", "h3", { kind: "seats", seatIds: ["A-R1-1"] });
    // The A watcher never hears of B's seat; its next update carries A's change and the latest counts.
    let item = await a();
    while (item.kind === "update" && item.changes.length === 0) item = await a();
    expect(item).toMatchObject({ kind: "update", changes: [{ seatId: "A-R1-1", status: S.HELD }] });
    if (item.kind !== "update") throw new Error(item.kind);
    // Counts are read after the changes of their tick, so they include every earlier hold.
    expect(item.availability.event).toMatchObject({ held: 6, available: 10 + 6 - 6 });
    expect(item.availability.tiers[0]?.counts).toMatchObject({ held: 4, available: 6 });
  });

  it("follows new changes after retention trimmed the outbox up to and past its cursor", async () => {
    const f = seatFixture();
    const hub = hubOf(f);
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 3)], tiers: [] });
    await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] });
    const a = reader(hub.watch(f.eventId, "A", new AbortController().signal));
    expect(await a()).toMatchObject({ kind: "update", availability: { event: { held: 1 } } });
    const log = f.store.keys(f.eventId).log;
    const [newest] = await f.redis.xrevrange(log, "+", "-", "COUNT", 1);
    await f.redis.xtrim(log, "MINID", `${Number(newest?.[0].split("-")[0]) + 1}`);
    expect(await f.redis.xlen(log)).toBe(0);
    await f.store.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-3"] });
    // The cursor is gone: the stream resyncs with a fresh snapshot of the section, which has the new hold.
    let item = await a();
    while (item.kind === "update" && item.availability.event.held !== 2) item = await a();
    if (item.kind !== "update") throw new Error(item.kind);
    expect(item.availability.seats.find((s) => s.seatId === "A-R1-3")).toMatchObject({ status: S.HELD });
    // And it follows changes after the jump.
    await f.store.hold(f.eventId, "u3", "h3", { kind: "seats", seatIds: ["A-R1-2"] });
    item = await a();
    while (item.kind === "update" && item.changes.length === 0) item = await a();
    expect(item).toMatchObject({ kind: "update", changes: [{ seatId: "A-R1-2", status: S.HELD }], availability: { event: { held: 3 } } });
  });

  it("folds changes into a first snapshot that was not read yet, and merges later ones per seat", async () => {
    const settings = { holdTtlSeconds: 600, maxHoldTtlSeconds: 1800, maxSeatsPerUser: 0, requirePass: false };
    const counts = (held: number) => ({ capacity: 2, available: 2 - held, held, sold: 0 });
    const view = (held: number, seats: AvailabilityView["seats"]): AvailabilityView => ({
      eventId: "e",
      settings,
      event: counts(held),
      sections: [{ section: "A", counts: counts(held) }],
      tiers: [],
      seats,
      cursor: "0-0",
    });
    const seat = (seatId: string, status: SeatStatusCode) => ({ seatId, section: "A", row: "1", status });
    const signal = new AbortController().signal;

    const watcher = new AvailabilityWatcher("A", signal);
    watcher.snapshot(view(0, [seat("A1", S.AVAILABLE), seat("A2", S.AVAILABLE)]));
    watcher.update(view(1, []), [seat("A1", S.HELD), { ...seat("B1", S.HELD), section: "B" }]);
    expect(await watcher.next()).toEqual({
      kind: "update",
      availability: view(1, [seat("A1", S.HELD), seat("A2", S.AVAILABLE)]),
      changes: [],
    });

    watcher.update(view(1, []), [seat("A2", S.HELD)]);
    watcher.update(view(2, []), [seat("A1", S.SOLD), seat("A2", S.AVAILABLE)]);
    expect(await watcher.next()).toEqual({ kind: "update", availability: view(2, []), changes: [seat("A1", S.SOLD), seat("A2", S.AVAILABLE)] });
  });

  it("survives its cursor being trimmed away by retention: every stream gets a fresh snapshot", async () => {
    const f = seatFixture();
    // The loop ticks only when new watchers wait or the test wakes it.
    const { hub, reader: outbox } = watchOf(f, 3_600_000);
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 3), grid("B", 1, 3)], tiers: [] });
    // The outbox has an entry for the loop's cursor to stand on.
    await f.store.hold(f.eventId, "u0", "h0", { kind: "seats", seatIds: ["B-R1-1"] });
    await f.store.release(f.eventId, "h0", "u0");
    const a = reader(hub.watch(f.eventId, "A", new AbortController().signal));
    const all = reader(hub.watch(f.eventId, undefined, new AbortController().signal));
    expect(await a()).toMatchObject({ kind: "update", availability: { seats: [{ status: S.AVAILABLE }, { status: S.AVAILABLE }, { status: S.AVAILABLE }] } });
    expect(await all()).toMatchObject({ kind: "update", availability: { event: { held: 0 } } });
    // A hold, and retention removes its entry with the loop's cursor before the loop reads again.
    expect((await f.store.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-2"] })).kind).toBe("held");
    await f.redis.xtrim(f.store.keys(f.eventId).log, "MAXLEN", 0);
    outbox.wake(f.eventId);
    expect(await a()).toMatchObject({
      kind: "update",
      availability: { event: { held: 1 }, seats: [{ status: S.AVAILABLE }, { seatId: "A-R1-2", status: S.HELD }, { status: S.AVAILABLE }] },
      changes: [],
    });
    expect(await all()).toMatchObject({ kind: "update", availability: { event: { held: 1, available: 5 } } });
    // And it follows the entries after the jump.
    await f.store.release(f.eventId, "h1", "u1");
    outbox.wake(f.eventId);
    expect(await a()).toMatchObject({ kind: "update", changes: [{ seatId: "A-R1-2", status: S.AVAILABLE }], availability: { event: { held: 0 } } });
  });

  it("sends every stream a fresh snapshot after a seat map is loaded", async () => {
    const f = seatFixture();
    const hub = hubOf(f);
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 2)], tiers: [] });
    const a = reader(hub.watch(f.eventId, "A", new AbortController().signal));
    expect(await a()).toMatchObject({ kind: "update", availability: { seats: [{ seatId: "A-R1-1" }, { seatId: "A-R1-2" }] } });
    // The entry the map's script writes (its fields do not matter to the stream).
    await f.redis.xadd(f.store.keys(f.eventId).log, "*", "type", "seat.map_loaded", "sections", "1", "seats", "2", "tiers", "0", "capacity", "2", "replaced", "1");
    expect(await a()).toMatchObject({ kind: "update", availability: { seats: [{ seatId: "A-R1-1" }, { seatId: "A-R1-2" }] }, changes: [] });
  });

  it("stops the event's loop when the last watcher aborts, rejecting with the abort reason", async () => {
    const f = seatFixture();
    const hub = hubOf(f);
    await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 1, 2)], tiers: [] });
    const controller = new AbortController();
    const stream = hub.watch(f.eventId, undefined, controller.signal);
    await stream.next();
    expect(hub.eventsWatched).toBe(1);
    const pending = stream.next();
    const reason = new Error("gone");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await hub.stopped(f.eventId);
    expect(hub.eventsWatched).toBe(0);
  });
});
