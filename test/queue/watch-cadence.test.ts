import { describe, expect, it } from "vitest";
import { EVERY_CHANGE, type WatchCadence } from "../../src/queue/position-walk.js";
import { StoredQueueState as QueueState, StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture, type QueueFixture } from "./fixtures.js";
import { recordingWatch, type RecordingWatch } from "./recording-watch.js";

/** Places 1–3 hear every change; further back a quarter of the place at once, anything else within 2 s. */
const CADENCE: WatchCadence = { exactWithin: 3, farMinChange: 0.25, farIntervalMs: 2_000 };

/** `users` in line (u1 first), watched under `cadence` (the loop's default, every change, when undefined). */
async function line(users: number, cadence: WatchCadence | undefined): Promise<{ f: QueueFixture; w: RecordingWatch; users: string[] }> {
  const f = await queueFixture();
  await f.store.configure(f.eventId, { admitRatePerSec: 1_000, admitBurst: 1_000, state: QueueState.PAUSED });
  const ids = Array.from({ length: users }, (_, i) => `u${i + 1}`);
  for (const u of ids) await f.store.join(f.eventId, u);
  return { f, w: recordingWatch(f, cadence), users: ids };
}

const positions = (w: RecordingWatch, userId: string): number[] => w.tickets(userId).map((t) => t.position);

describe("the update cadence of WatchPosition", () => {
  it("tells watchers near the front every change", async () => {
    const { f, w } = await line(10, CADENCE);
    for (const u of ["u2", "u3", "u4"]) w.open(u);
    await w.tick();
    for (const leaving of ["u1", "u5"]) {
      await f.store.leave(f.eventId, leaving);
      await w.tick();
    }
    // u4 came into the exact zone with the first Leave; the second one moved nobody watched.
    expect(positions(w, "u2")).toEqual([2, 1]);
    expect(positions(w, "u3")).toEqual([3, 2]);
    expect(positions(w, "u4")).toEqual([4, 3]);
    await w.close();
  });

  it("holds a small change back from a far watcher until its interval has passed, then sends the exact place", async () => {
    const { f, w } = await line(20, CADENCE);
    w.open("u20");
    await w.tick();
    expect(positions(w, "u20")).toEqual([20]);
    const firstAt = w.told("u20")[0]?.atMs as number;
    await f.store.leave(f.eventId, "u1");
    await w.tick();
    w.advance(1_000);
    await f.store.leave(f.eventId, "u2");
    await w.tick();
    w.advance(999);
    await w.tick();
    // Two places of twenty is less than a quarter, and the last message is 1,999 ms old.
    expect(positions(w, "u20")).toEqual([20]);
    w.advance(1);
    // No change arrives: the tick alone tells the held-back one.
    await w.tick();
    expect(w.told("u20").map((t) => t.atMs - firstAt)).toEqual([0, 2_000]);
    const held = w.tickets("u20")[1];
    const truth = await f.store.position(f.eventId, "u20");
    expect(truth.kind === "ticket" && truth.ticket.position).toBe(18);
    expect(held).toMatchObject({ position: 18, waitingTotal: 18, state: T.WAITING });
    // Nothing more to tell.
    w.advance(5_000);
    await w.tick();
    expect(positions(w, "u20")).toEqual([20, 18]);
    await w.close();
  });

  it("sends a held-back change with the estimate of the exact place it carries", async () => {
    const { f, w } = await line(40, CADENCE);
    // Two admission steps a second apart: a measured rate.
    await f.store.configure(f.eventId, { state: QueueState.OPEN });
    for (const _ of [1, 2]) {
      expect(await f.store.admit(f.eventId, { maxAdmissions: 1 })).toMatchObject({ kind: "admission", admitted: 1 });
      f.advance(1_000);
    }
    await f.store.configure(f.eventId, { state: QueueState.PAUSED });
    w.open("u40");
    await w.tick();
    const first = w.tickets("u40")[0];
    expect(first?.position).toBe(38);
    expect(first?.estimatedWaitSeconds).toBeGreaterThan(0);
    await f.store.leave(f.eventId, "u10");
    await w.tick();
    expect(w.tickets("u40")).toHaveLength(1);
    w.advance(2_000);
    await w.tick();
    const truth = await f.store.position(f.eventId, "u40");
    expect(truth.kind).toBe("ticket");
    if (truth.kind !== "ticket") return;
    expect(truth.ticket.position).toBe(37);
    expect(w.tickets("u40")[1]).toMatchObject({ position: 37, estimatedWaitSeconds: truth.ticket.estimatedWaitSeconds });
    await w.close();
  });

  it("sends a large change to a far watcher at once", async () => {
    const { f, w, users } = await line(20, CADENCE);
    w.open("u20");
    await w.tick();
    // Five of twenty: a quarter.
    await Promise.all(users.slice(0, 5).map((u) => f.store.leave(f.eventId, u)));
    await w.tick();
    expect(positions(w, "u20")).toEqual([20, 15]);
    expect(w.told("u20")[1]?.atMs).toBe(w.told("u20")[0]?.atMs);
    await w.close();
  });

  it("tells a watcher every change from the moment it comes within the exact zone", async () => {
    const { f, w } = await line(8, CADENCE);
    w.open("u8");
    await w.tick();
    const leaving = ["u1", "u2", "u3", "u4", "u5", "u6", "u7"];
    for (const u of leaving) {
      await f.store.leave(f.eventId, u);
      await w.tick();
    }
    // 8 → 7 held back (less than a quarter, no time passed), 6 is a quarter of 8; 5 held back
    // (a sixth of 6), 4 sent (a third); from there on every one.
    expect(positions(w, "u8")).toEqual([8, 6, 4, 3, 2, 1]);
    await w.close();
  });

  it("never holds back a state change", async () => {
    const { f, w } = await line(20, CADENCE);
    for (const u of ["u18", "u19", "u20"]) w.open(u);
    await w.tick();
    await f.store.leave(f.eventId, "u20");
    await f.store.leave(f.eventId, "u1");
    await w.tick();
    expect(w.tickets("u20").map((t) => [t.state, t.position])).toEqual([
      [T.WAITING, 20],
      [T.LEFT, 0],
    ]);
    // The others' small change waits.
    expect(positions(w, "u19")).toEqual([19]);
    await f.store.configure(f.eventId, { state: QueueState.OPEN });
    f.advance(60_000);
    expect(await f.store.admit(f.eventId, { maxAdmissions: 18 })).toMatchObject({ kind: "admission", admitted: 18 });
    await w.tick();
    // Everyone left in line is admitted: u18 and u19 are told at once, with their pass.
    for (const u of ["u18", "u19"]) {
      const last = w.tickets(u).at(-1);
      expect(last?.state).toBe(T.ADMITTED);
      expect(last?.expiresAtMs).toBeGreaterThan(0);
    }
    await w.close();
  });

  it("off, tells every change to every watcher at once", async () => {
    for (const cadence of [undefined, EVERY_CHANGE, { ...CADENCE, farIntervalMs: 0 }, { ...CADENCE, farMinChange: 0 }]) {
      const { f, w } = await line(12, cadence);
      w.open("u12");
      await w.tick();
      for (const u of ["u1", "u2", "u3"]) {
        await f.store.leave(f.eventId, u);
        await w.tick();
      }
      expect(positions(w, "u12"), JSON.stringify(cadence)).toEqual([12, 11, 10, 9]);
      await w.close();
    }
  });
});
