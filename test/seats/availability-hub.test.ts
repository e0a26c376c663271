import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { StoredSeatStatus as S } from "../../src/redis/outcomes.js";
import { availabilityWatch, type AvailabilityHub } from "../../src/seats/availability-loop.js";
import { OutboxReader } from "../../src/watch/outbox-reader.js";
import { WatchHub } from "../../src/watch/watch-hub.js";
import { AvailabilityWatcher, type AvailabilityItem } from "../../src/seats/availability-watcher.js";
import type { AvailabilityView, SeatStatusCode } from "../../src/seats/types.js";
import { grid, seatFixture } from "./fixtures.js";

function hubOf(f: ReturnType<typeof seatFixture>, maxEntriesPerRead = 1000): AvailabilityHub {
  const logger = pino({ level: "silent" });
  const reader = new OutboxReader(f.redis, { keyPrefix: f.prefix, intervalMs: 20, maxEntriesPerRead, logger });
  onTestFinished(() => reader.close());
  return new WatchHub(reader, availabilityWatch(f.store, { logger }));
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
