import { expect, it } from "vitest";
import type { WatchCadence } from "../../src/queue/position-walk.js";
import type { TicketView } from "../../src/queue/types.js";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture } from "./fixtures.js";
import { recordingWatch } from "./recording-watch.js";
import { mulberry32 } from "../support/prng.js";


const CADENCE: WatchCadence = { exactWithin: 5, farMinChange: 0.2, farIntervalMs: 1_000 };
const STEPS = 70;

/**
 * Random joins, leaves, admissions (which also move the measured rate, so
 * estimates change on their own) and clock steps, one tick after each step.
 * Against Redis's own answer after every tick: each message sent in it
 * carries exactly the user's state, place and estimate of that moment; and
 * a waiting watcher's last message differs from the truth only while it is
 * farther back than `exactWithin`, younger than the interval, and the
 * change is smaller than `farMinChange` of what it was told.
 */
it.each([11, 12, 13])("every message is exact and no far watcher is told late (seed %i)", async (seed) => {
  const random = mulberry32(seed);
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)] as X;
  const f = await queueFixture();
  await f.store.configure(f.eventId, { admitRatePerSec: 10_000, admitBurst: 10_000 });
  const w = recordingWatch(f, CADENCE);
  const advance = (ms: number): void => {
    w.advance(ms);
    f.advance(ms);
  };
  let next = 0;
  const waiting: string[] = [];
  const join = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const user = `u${next++}`;
      await f.store.join(f.eventId, user);
      waiting.push(user);
    }
  };
  await join(60);
  const watched = new Set<string>();
  const open = (user: string): void => {
    w.open(user);
    watched.add(user);
  };
  for (let i = 0; i < 12; i++) open(pick(waiting.filter((u) => !watched.has(u))));
  await w.tick();
  // Those first messages were exact when sent; from here on each is checked in the tick that sent it.
  const seen = new Map([...watched].map((u) => [u, w.told(u).length]));
  const ended = new Set<string>();
  let messages = 0;
  let heldBack = 0;

  for (let step = 0; step < STEPS; step++) {
    const roll = random();
    if (roll < 0.3) {
      await join(1 + Math.floor(random() * 3));
    } else if (roll < 0.7) {
      // Mostly one or two, sometimes many at once (a large change for everyone behind).
      const n = random() < 0.15 ? 8 + Math.floor(random() * 8) : 1 + Math.floor(random() * 2);
      for (let i = 0; i < n && waiting.length > 0; i++) {
        const user = pick(waiting);
        waiting.splice(waiting.indexOf(user), 1);
        await f.store.leave(f.eventId, user);
      }
    } else if (roll < 0.8) {
      const n = 1 + Math.floor(random() * 3);
      const step = await f.store.admit(f.eventId, { maxAdmissions: n });
      expect(step.kind).toBe("admission");
      waiting.splice(0, step.kind === "admission" ? step.admitted : 0);
    } else if (roll < 0.88) {
      const unwatched = waiting.filter((u) => !watched.has(u));
      if (unwatched.length > 0) open(pick(unwatched));
    }
    advance(pick([0, 0, 100, 250, 400, 700, 999, 1_000, 1_500, 3_000]));
    await w.tick();

    const now = w.now();
    const users = [...watched].filter((u) => !ended.has(u));
    const truths = await Promise.all(users.map((u) => f.store.position(f.eventId, u)));
    users.forEach((user, i) => {
      const result = truths[i];
      if (result?.kind !== "ticket") throw new Error(`${user}: ${result?.kind}`);
      const truth = result.ticket;
      const told = w.told(user);
      const at = `seed ${seed}, step ${step}, ${user}`;
      for (const { item } of told.slice(seen.get(user) ?? 0)) {
        messages++;
        expect(item.kind, at).toBe("ticket");
        if (item.kind !== "ticket") return;
        expect(exact(item.ticket), at).toEqual(exact(truth));
      }
      seen.set(user, told.length);
      const last = told.at(-1);
      expect(last, `${at}: never told`).toBeDefined();
      if (!last || last.item.kind !== "ticket") return;
      const ticket = last.item.ticket;
      if (truth.state !== T.WAITING) {
        expect(ticket.state, `${at}: an ending waits`).toBe(truth.state);
        ended.add(user);
        return;
      }
      if (ticket.position === truth.position && ticket.estimatedWaitSeconds === truth.estimatedWaitSeconds) {
        return;
      }
      heldBack++;
      expect(truth.position, `${at}: held back near the front`).toBeGreaterThan(CADENCE.exactWithin);
      expect(now - last.atMs, `${at}: held back past the interval`).toBeLessThan(CADENCE.farIntervalMs);
      expect(Math.abs(ticket.position - truth.position), `${at}: a large move held back`).toBeLessThan(CADENCE.farMinChange * ticket.position);
    });
  }
  // The run exercised what it checks.
  expect(messages).toBeGreaterThan(STEPS);
  expect(heldBack).toBeGreaterThan(0);
  expect(ended.size).toBeGreaterThan(0);
  await w.close();
});

/** What a message must get exactly right. */
function exact(t: TicketView): Pick<TicketView, "state" | "position" | "estimatedWaitSeconds"> {
  return { state: t.state, position: t.position, estimatedWaitSeconds: t.estimatedWaitSeconds };
}
