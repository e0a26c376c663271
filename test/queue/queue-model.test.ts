import { expect, it } from "vitest";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture } from "./fixtures.js";

/** A small deterministic PRNG, so a failing run can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const IDLE_MS = 60_000;
// Clock steps are 24 s, so an idle deadline is always 12 s away from any
// step: real time spent by the test cannot move a user across it.
const STEP_MS = 24_000;

for (const seed of [1, 2, 3]) {
  it(`matches an in-memory line through random joins, leaves, polls and expiries (seed ${seed})`, async () => {
    const f = await queueFixture();
    const random = mulberry32(seed);
    await f.store.configure(f.eventId, { idleTimeoutSeconds: IDLE_MS / 1000 });
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    let now = 0;
    const line: string[] = [];
    const lastSeen = new Map<string, number>();
    const ended = new Map<string, number>();

    const expectLine = async (): Promise<void> => {
      for (const [index, user] of line.entries()) {
        const result = await f.store.position(f.eventId, user);
        expect(result, `${user} at step`).toMatchObject({ ticket: { state: T.WAITING, position: index + 1, waitingTotal: line.length } });
        lastSeen.set(user, now);
      }
    };

    for (let step = 0; step < 250; step++) {
      const user = users[Math.floor(random() * users.length)] as string;
      const roll = random();
      if (roll < 0.45) {
        const result = await f.store.join(f.eventId, user);
        if (line.includes(user)) {
          expect(result.kind).toBe("already_joined");
        } else {
          expect(result).toMatchObject({ kind: "joined", ticket: { position: line.length + 1 } });
          line.push(user);
          ended.delete(user);
        }
        lastSeen.set(user, now);
      } else if (roll < 0.7) {
        const result = await f.store.leave(f.eventId, user);
        if (line.includes(user)) {
          expect(result.kind).toBe("left");
          line.splice(line.indexOf(user), 1);
          ended.set(user, T.LEFT);
        } else if (ended.has(user)) {
          expect(result).toMatchObject({ kind: "already_ended", ticket: { state: ended.get(user) } });
        } else {
          expect(result.kind).toBe("not_in_queue");
        }
      } else if (roll < 0.85) {
        now += STEP_MS;
        f.advance(STEP_MS);
        let swept = 0;
        for (;;) {
          const result = await f.store.sweep(f.eventId, 7);
          if (result.kind !== "swept") throw new Error(result.kind);
          swept += result.expired;
          if (!result.more) break;
        }
        const due = line.filter((u) => (lastSeen.get(u) ?? 0) < now - IDLE_MS);
        expect(swept).toBe(due.length);
        for (const u of due) {
          line.splice(line.indexOf(u), 1);
          ended.set(u, T.EXPIRED);
        }
      } else {
        const result = await f.store.position(f.eventId, user);
        if (line.includes(user)) {
          expect(result).toMatchObject({ ticket: { state: T.WAITING, position: line.indexOf(user) + 1 } });
          lastSeen.set(user, now);
        } else if (ended.has(user)) {
          expect(result).toMatchObject({ ticket: { state: ended.get(user), position: 0 } });
        } else {
          expect(result.kind).toBe("not_in_queue");
        }
      }
      if (step % 25 === 0) {
        await expectLine();
      }
      expect(await f.redis.zcard(f.store.keys(f.eventId).waiting)).toBe(line.length);
    }
    await expectLine();
  });
}
