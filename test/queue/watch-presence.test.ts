import { describe, expect, it, vi } from "vitest";
import type { PositionHub } from "../../src/queue/position-watch.js";
import type { WatchItem } from "../../src/queue/watcher.js";
import { OpeningPhase, StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture, redisNowMs, testHub, type QueueFixture } from "./fixtures.js";

const SECOND = 1000;
/** The idle timeout of these tests; the loop refreshes presence every third of it. */
const IDLE_SECONDS = 300;

/**
 * A fixture whose two clocks move together by hand: the scripts' (Redis TIME
 * plus the fixture's skew) and the watch loop's.
 */
async function clocked(): Promise<{ f: QueueFixture; hub: PositionHub; advance(ms: number): void }> {
  const f = await queueFixture();
  let loopNow = Date.now();
  // Two tickets read per tick: re-reading six watchers takes three ticks.
  const hub = testHub(f, { batchSize: 2, maxChangesPerTick: 3, now: () => loopNow });
  return {
    f,
    hub,
    advance(ms) {
      loopNow += ms;
      f.advance(ms);
    },
  };
}

/** Collects every item of a watch in the background; `stop` aborts it. */
function collect(hub: PositionHub, eventId: string, userId: string) {
  const controller = new AbortController();
  const items: WatchItem[] = [];
  let first: () => void = () => undefined;
  const firstSeen = new Promise<void>((resolve) => (first = resolve));
  const done = (async () => {
    try {
      for await (const item of hub.watch(eventId, userId, controller.signal)) {
        items.push(item);
        first();
      }
    } catch (err) {
      if (err !== controller.signal.reason) throw err;
    }
  })();
  return {
    items,
    firstSeen,
    async stop(): Promise<void> {
      controller.abort(new Error("test over"));
      await done;
    },
  };
}

async function ticks(hub: PositionHub, eventId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await hub.ticked(eventId);
}

const watchedUsers = Array.from({ length: 6 }, (_, i) => `w${i}`);

describe("presence of live watchers", () => {
  it.each(["the opening shuffle", "a resync"] as const)(
    "keeps refreshing watchers read again after %s: none is ever told EXPIRED while watching",
    async (trigger) => {
      const { f, hub, advance } = await clocked();
      const opensAtMs = (await redisNowMs(f.redis)) + 60 * SECOND;
      await f.store.configure(f.eventId, {
        idleTimeoutSeconds: IDLE_SECONDS,
        admitRatePerSec: 1000,
        admitBurst: 1000,
        ...(trigger === "the opening shuffle" ? { opensAtMs } : {}),
      });
      // Unwatched users ahead, who leave at once in the resync case.
      const leads = trigger === "a resync" ? ["lead0", "lead1", "lead2", "lead3"] : [];
      for (const u of [...leads, ...watchedUsers]) await f.store.join(f.eventId, u);
      const watches = watchedUsers.map((u) => collect(hub, f.eventId, u));
      await Promise.all(watches.map((w) => w.firstSeen));

      if (trigger === "the opening shuffle") {
        advance(60 * SECOND);
        const step = await f.store.admit(f.eventId, { maxAdmissions: 1 });
        expect(step).toMatchObject({ kind: "admission", opening: OpeningPhase.SHUFFLED, admitted: 0 });
      } else {
        // Four changes at once where a tick reads at most three: the loop resyncs.
        await Promise.all(leads.map((u) => f.store.leave(f.eventId, u)));
      }
      // The tick that sees it sends every watcher back to be read again, two per tick;
      // their presence falls due while most of them wait for that.
      await hub.ticked(f.eventId);
      advance((IDLE_SECONDS / 3) * SECOND);

      // Well past the idle timeout, a third of it at a time, sweeping as the sweeper would.
      for (let elapsed = 0; elapsed <= 2 * IDLE_SECONDS * SECOND; elapsed += (IDLE_SECONDS / 6) * SECOND) {
        await ticks(hub, f.eventId, 3);
        expect(await f.store.sweep(f.eventId, 100), `after ${elapsed / SECOND} s`).toEqual({ kind: "swept", expired: 0, more: false });
        advance((IDLE_SECONDS / 6) * SECOND);
      }
      await ticks(hub, f.eventId, 3);
      await Promise.all(watches.map((w) => w.stop()));

      for (const [i, w] of watches.entries()) {
        const states = w.items.map((item) => (item.kind === "ticket" ? item.ticket.state : item.kind));
        expect(states.every((s) => s === T.WAITING), `${watchedUsers[i]}: ${states.join(",")}`).toBe(true);
        const position = await f.store.position(f.eventId, watchedUsers[i] as string);
        expect(position).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING } });
        // The last message carries the place the user holds now.
        const last = w.items.at(-1);
        expect(last?.kind === "ticket" && last.ticket.position).toBe(position.kind === "ticket" && position.ticket.position);
      }
    },
  );

  it("refreshes a user once per round however often they reconnect", async () => {
    const { f, hub, advance } = await clocked();
    await f.store.configure(f.eventId, { idleTimeoutSeconds: IDLE_SECONDS });
    for (const u of ["a", "b", "c"]) await f.store.join(f.eventId, u);
    const touched: string[][] = [];
    const watchTick = f.store.watchTick.bind(f.store);
    vi.spyOn(f.store, "watchTick").mockImplementation((eventId, users) => {
      touched.push([...users.touch]);
      return watchTick(eventId, users);
    });
    const others = ["b", "c"].map((u) => collect(hub, f.eventId, u));
    // "a" reconnects five times: each new stream opens before the old one is gone.
    let a = collect(hub, f.eventId, "a");
    await a.firstSeen;
    for (let i = 0; i < 5; i++) {
      const next = collect(hub, f.eventId, "a");
      await next.firstSeen;
      await a.stop();
      a = next;
    }
    await Promise.all(others.map((w) => w.firstSeen));
    await hub.ticked(f.eventId);
    touched.length = 0;
    advance((IDLE_SECONDS / 3) * SECOND);
    // Three users, two touches per tick: one round takes two ticks.
    await ticks(hub, f.eventId, 3);
    expect(touched.flat().sort()).toEqual(["a", "b", "c"]);
    await Promise.all([a, ...others].map((w) => w.stop()));
  });
});
