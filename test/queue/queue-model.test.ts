import type { Redis } from "ioredis";
import { expect, it } from "vitest";
import { ChangeType } from "../../src/redis/change-types.js";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import type { TicketStateCode } from "../../src/queue/types.js";
import { queueFixture, type QueueFixture } from "./fixtures.js";
import { mulberry32 } from "../support/prng.js";


/** What the outbox alone says of a line: who waits at which seq, the open sessions, how many were admitted. */
interface RebuiltLine {
  /** user -> seq, in line order. */
  readonly waiting: Array<[string, number]>;
  /** user -> session expiry (epoch ms), sessions not yet ended. */
  readonly sessions: Map<string, number>;
  readonly admitted: number;
}

/** Replays every entry of the event's outbox, oldest first, knowing nothing else. */
async function rebuildFromOutbox(redis: Redis, log: string): Promise<RebuiltLine> {
  const waiting = new Map<string, number>();
  const sessions = new Map<string, number>();
  let admitted = 0;
  for (const [, flat] of await redis.xrange(log, "-", "+")) {
    const e = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) e.set(flat[i] as string, flat[i + 1] as string);
    const user = e.get("user") as string;
    switch (e.get("type")) {
      case ChangeType.QUEUE_JOINED:
        waiting.set(user, Number(e.get("seq")));
        break;
      case ChangeType.QUEUE_LEFT:
      case ChangeType.QUEUE_EXPIRED:
        waiting.delete(user);
        break;
      case ChangeType.QUEUE_ADMITTED:
        waiting.delete(user);
        sessions.set(user, Number(e.get("expires")));
        admitted += 1;
        break;
      case ChangeType.QUEUE_SESSION_ENDED:
        sessions.delete(user);
        break;
    }
  }
  return { waiting: [...waiting].sort((a, b) => a[1] - b[1]), sessions, admitted };
}

/** The same, as Redis holds it. */
async function heldInRedis(f: QueueFixture): Promise<RebuiltLine> {
  const k = f.store.keys(f.eventId);
  const pairs = (flat: string[]): Array<[string, number]> => {
    const out: Array<[string, number]> = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
    return out;
  };
  return {
    waiting: pairs(await f.redis.zrange(k.waiting, 0, "-1", "WITHSCORES")),
    sessions: new Map(pairs(await f.redis.zrange(k.active, 0, "-1", "WITHSCORES"))),
    admitted: Number((await f.redis.hget(k.stats, "admitted_total")) ?? 0),
  };
}

const IDLE_MS = 60_000;
const SESSION_MS = 60_000;
const MAX_ACTIVE = 3;
// Clock steps are 24 s, so an idle deadline or a session expiry is always
// 12 s away from any step: real time spent by the test cannot move a user
// across it.
const STEP_MS = 24_000;

for (const seed of [1, 2, 3]) {
  it(`matches an in-memory line through random joins, leaves, polls, admissions and expiries (seed ${seed})`, async () => {
    const f = await queueFixture();
    const random = mulberry32(seed);
    // Tokens never run out here; max_active is what paces admissions.
    await f.store.configure(f.eventId, {
      idleTimeoutSeconds: IDLE_MS / 1000,
      sessionTtlSeconds: SESSION_MS / 1000,
      admitRatePerSec: 1000,
      admitBurst: 1000,
      maxActive: MAX_ACTIVE,
    });
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    let now = 0;
    let admittedTotal = 0;
    const line: string[] = [];
    const lastSeen = new Map<string, number>();
    /** Admitted users whose session has not been ended yet, with its expiry. */
    const sessions = new Map<string, number>();
    const ended = new Map<string, TicketStateCode>();

    const live = (user: string): boolean => (sessions.get(user) ?? -1) > now;
    /** Ends a session the clock has passed, as every script reads it. */
    const lapse = (user: string): void => {
      sessions.delete(user);
      ended.set(user, T.EXPIRED);
    };
    const stateOf = (user: string): TicketStateCode | undefined =>
      line.includes(user) ? T.WAITING : sessions.has(user) ? (live(user) ? T.ADMITTED : T.EXPIRED) : ended.get(user);

    const expectLine = async (): Promise<void> => {
      for (const [index, user] of line.entries()) {
        const result = await f.store.position(f.eventId, user);
        expect(result, `${user} at step`).toMatchObject({ ticket: { state: T.WAITING, position: index + 1, waitingTotal: line.length } });
        lastSeen.set(user, now);
      }
      const stats = await f.store.stats(f.eventId);
      expect(stats).toMatchObject({ stats: { active: [...sessions.keys()].filter(live).length, admittedTotal } });
    };

    for (let step = 0; step < 250; step++) {
      const user = users[Math.floor(random() * users.length)] as string;
      const roll = random();
      if (roll < 0.4) {
        const result = await f.store.join(f.eventId, user);
        if (line.includes(user) || live(user)) {
          expect(result).toMatchObject({ kind: "already_joined", ticket: { state: stateOf(user) } });
        } else {
          expect(result).toMatchObject({ kind: "joined", ticket: { position: line.length + 1 } });
          if (sessions.has(user)) lapse(user);
          line.push(user);
          ended.delete(user);
        }
        lastSeen.set(user, now);
      } else if (roll < 0.6) {
        const result = await f.store.leave(f.eventId, user);
        if (line.includes(user)) {
          expect(result.kind).toBe("left");
          line.splice(line.indexOf(user), 1);
          ended.set(user, T.LEFT);
        } else if (live(user)) {
          expect(result).toMatchObject({ kind: "left", ticket: { state: T.LEFT } });
          sessions.delete(user);
          ended.set(user, T.LEFT);
        } else if (sessions.has(user)) {
          expect(result).toMatchObject({ kind: "already_ended", ticket: { state: T.EXPIRED } });
          lapse(user);
        } else if (ended.has(user)) {
          expect(result).toMatchObject({ kind: "already_ended", ticket: { state: ended.get(user) } });
        } else {
          expect(result.kind).toBe("not_in_queue");
        }
      } else if (roll < 0.72) {
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
      } else if (roll < 0.85) {
        const maxAdmissions = 1 + Math.floor(random() * 3);
        const result = await f.store.admit(f.eventId, { maxAdmissions });
        const lapsed = [...sessions.keys()].filter((u) => !live(u));
        lapsed.forEach(lapse);
        const room = MAX_ACTIVE - sessions.size;
        const admitted = line.splice(0, Math.min(room, maxAdmissions));
        for (const u of admitted) sessions.set(u, now + SESSION_MS);
        admittedTotal += admitted.length;
        expect(result).toMatchObject({ kind: "admission", admitted: admitted.length, sessionsEnded: lapsed.length });
      } else {
        const result = await f.store.position(f.eventId, user);
        const state = stateOf(user);
        if (state === undefined) {
          expect(result.kind).toBe("not_in_queue");
        } else {
          const position = state === T.WAITING ? line.indexOf(user) + 1 : 0;
          expect(result).toMatchObject({ ticket: { state, position } });
          if (state === T.WAITING) lastSeen.set(user, now);
        }
      }
      if (step % 25 === 0) {
        await expectLine();
      }
      expect(await f.redis.zcard(f.store.keys(f.eventId).waiting)).toBe(line.length);
      // The outbox alone rebuilds the line in order with its seqs, the open sessions and the admissions.
      const rebuilt = await rebuildFromOutbox(f.redis, f.store.keys(f.eventId).log);
      expect(rebuilt, `outbox after step ${step}`).toEqual(await heldInRedis(f));
      expect(rebuilt.waiting.map(([u]) => u)).toEqual(line);
    }
    await expectLine();
    // The walk did reach every path it models.
    expect(admittedTotal).toBeGreaterThan(MAX_ACTIVE);
    expect([...ended.values()]).toEqual(expect.arrayContaining([T.LEFT, T.EXPIRED]));
  });
}
