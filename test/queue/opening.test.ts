import { describe, expect, it } from "vitest";
import type { QueueStore } from "../../src/queue/queue-store.js";
import type { AdmissionStep, TicketView } from "../../src/queue/types.js";
import type { WatchItem } from "../../src/queue/watcher.js";
import { OpeningPhase, StoredTicketState as T } from "../../src/redis/outcomes.js";
import { queueFixture, queueLog, redisNowMs, storedTicket, testHub, type QueueFixture } from "./fixtures.js";

const MINUTE = 60_000;

/** A queue whose sale opens a minute from now (by Redis's clock), admitting 1,000/s. */
async function beforeOpening(f: QueueFixture): Promise<number> {
  const opensAtMs = (await redisNowMs(f.redis)) + MINUTE;
  await f.store.configure(f.eventId, { opensAtMs, admitRatePerSec: 1000, admitBurst: 1000 });
  return opensAtMs;
}

async function joinAll(store: QueueStore, eventId: string, users: readonly string[]): Promise<TicketView[]> {
  return Promise.all(
    users.map(async (u) => {
      const result = await store.join(eventId, u);
      if (result.kind !== "joined") throw new Error(`join of ${u}: ${result.kind}`);
      return result.ticket;
    }),
  );
}

async function step(f: QueueFixture, shuffleBatch?: number): Promise<AdmissionStep> {
  const result = await f.store.admit(f.eventId, { maxAdmissions: 1000, ...(shuffleBatch ? { shuffleBatch } : {}) });
  if (result.kind !== "admission") throw new Error(result.kind);
  return result;
}

/** Admission calls until the opening shuffle is done; returns how many it took. */
async function open(f: QueueFixture, shuffleBatch: number): Promise<number> {
  for (let calls = 1; calls < 10_000; calls++) {
    const s = await step(f, shuffleBatch);
    expect(s.admitted).toBe(0);
    if (s.opening === OpeningPhase.SHUFFLED) return calls;
    expect(s.opening).toBe(OpeningPhase.SHUFFLING);
  }
  throw new Error("the shuffle never finished");
}

/** The line front to back, checked against every ticket record: score = seq. */
async function line(f: QueueFixture): Promise<string[]> {
  const k = f.store.keys(f.eventId);
  const flat = await f.redis.zrange(k.waiting, 0, "-1", "WITHSCORES");
  const users: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const user = flat[i] as string;
    expect((await storedTicket(f, user))?.seq, `seq of ${user}`).toBe(Number(flat[i + 1]));
    users.push(user);
  }
  return users;
}

const named = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("the pre-queue", () => {
  it("holds joins before opens_at at position 0 with the opening time, and admits nobody before it", async () => {
    const f = await queueFixture();
    const opensAtMs = await beforeOpening(f);
    const tickets = await joinAll(f.store, f.eventId, named("early", 5));
    for (const t of tickets) {
      expect(t).toMatchObject({ state: T.WAITING, position: 0, waitingTotal: expect.any(Number), opensAtMs });
    }
    const again = await f.store.join(f.eventId, "early0");
    expect(again).toMatchObject({ kind: "already_joined", ticket: { position: 0, opensAtMs } });
    expect(await f.store.position(f.eventId, "early3")).toMatchObject({ kind: "ticket", ticket: { position: 0, waitingTotal: 5, opensAtMs } });
    expect(await step(f)).toMatchObject({ admitted: 0, opening: OpeningPhase.WAITING });
    expect(await f.store.stats(f.eventId)).toMatchObject({ kind: "stats", stats: { waiting: 5, preQueue: 5 } });

    // A pre-queue user who leaves is gone; rejoining before the opening is a new pre-queue place.
    expect(await f.store.leave(f.eventId, "early1")).toMatchObject({ kind: "left" });
    expect(await f.store.join(f.eventId, "early1")).toMatchObject({ kind: "joined", ticket: { position: 0, opensAtMs } });
    expect(await f.store.stats(f.eventId)).toMatchObject({ kind: "stats", stats: { waiting: 5, preQueue: 5 } });
  });

  it("at opening puts 1,000 early joiners in random order, ahead of later joiners who stay FIFO, with exact positions", async () => {
    const f = await queueFixture();
    const opensAtMs = await beforeOpening(f);
    const early = named("early", 1000);
    await joinAll(f.store, f.eventId, early);
    f.advance(MINUTE);

    // Joins after opens_at, before the shuffle ran: real places behind the whole pre-queue.
    const late = named("late", 3);
    for (const [i, u] of late.entries()) {
      const joined = await f.store.join(f.eventId, u);
      expect(joined).toMatchObject({ kind: "joined", ticket: { position: 1001 + i } });
      expect(joined.kind === "joined" && joined.ticket.opensAtMs).toBeUndefined();
    }

    // Chunks of 97 swaps: the shuffle spans 11 calls; joins and a leave between chunks change nothing.
    const first = await step(f, 97);
    expect(first).toMatchObject({ admitted: 0, opening: OpeningPhase.SHUFFLING, more: true });
    await f.store.join(f.eventId, "late3");
    await f.store.leave(f.eventId, "early500");
    expect(await f.store.position(f.eventId, "early7")).toMatchObject({ kind: "ticket", ticket: { position: 0, opensAtMs } });
    expect(1 + (await open(f, 97))).toBe(Math.ceil(999 / 97));

    const order = await line(f);
    const remaining = early.filter((u) => u !== "early500");
    expect(order.slice(0, remaining.length).sort()).toEqual([...remaining].sort());
    expect(order.slice(remaining.length)).toEqual([...late, "late3"]);
    expect(order.slice(0, remaining.length)).not.toEqual(remaining);

    for (const u of ["early0", "early999", order[0] as string, order[998] as string, "late0"]) {
      const p = await f.store.position(f.eventId, u);
      expect(p).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING, position: order.indexOf(u) + 1 } });
      expect(p.kind === "ticket" && p.ticket.opensAtMs).toBeUndefined();
    }
    const shuffled = (await queueLog(f)).filter((e) => e["type"] === "queue.shuffled");
    expect(shuffled).toEqual([{ type: "queue.shuffled", user: "", seq: "1000", first: "1" }]);
    expect(await f.store.stats(f.eventId)).toMatchObject({ kind: "stats", stats: { waiting: 1003, preQueue: 0 } });

    // Admissions resume with the next call, in the new order.
    const s = await f.store.admit(f.eventId, { maxAdmissions: 10 });
    expect(s).toMatchObject({ kind: "admission", admitted: 10, opening: OpeningPhase.NONE });
    for (const u of order.slice(0, 10)) {
      expect(await f.store.position(f.eventId, u)).toMatchObject({ kind: "ticket", ticket: { state: T.ADMITTED } });
    }
    expect(await f.store.position(f.eventId, order[10] as string)).toMatchObject({ kind: "ticket", ticket: { position: 1 } });
  });

  it("gives a different order every time, uniformly at random (a fixed list of seeds)", async () => {
    const N = 1000;
    const seeds = [11, 23, 97, 1_234, 65_537, 99_991, 424_242, 1_000_003, 31_415_926, 2_147_483_000];
    const orders: string[][] = [];
    // counts[d][e]: users from join-order decile d that ended in new-order decile e.
    const counts = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    for (const seed of seeds) {
      let next = seed;
      const f = await queueFixture({ shuffleSeeds: () => (next = (next * 48_271) % 2_147_483_647) });
      await beforeOpening(f);
      const early = named("u", N);
      for (let i = 0; i < N; i += 100) await joinAll(f.store, f.eventId, early.slice(i, i + 100));
      f.advance(MINUTE);
      await open(f, 250);
      const order = await line(f);
      expect([...order].sort()).toEqual([...early].sort());
      orders.push(order);

      // Spearman's rho between join order and new order: ~N(0, 1/sqrt(N-1)) = ±0.032 for a fair shuffle.
      const joinRank = new Map(early.map((u, i) => [u, i]));
      let d2 = 0;
      for (const [i, u] of order.entries()) {
        const j = joinRank.get(u) as number;
        d2 += (i - j) ** 2;
        (counts[Math.floor(j / 100)] as number[])[Math.floor(i / 100)]! += 1;
      }
      const rho = 1 - (6 * d2) / (N * (N * N - 1));
      expect(Math.abs(rho), `seed ${seed}: rho ${rho}`).toBeLessThan(0.15);
    }
    expect(new Set(orders.map((o) => o.join(","))).size).toBe(seeds.length);
    // Chi-square of the 10×10 decile table (81 degrees of freedom, 100 expected per cell):
    // a fair shuffle stays under 150 but for a chance of about one in a million.
    let chi2 = 0;
    for (const row of counts) for (const n of row) chi2 += (n - 100) ** 2 / 100;
    expect(chi2).toBeLessThan(150);
    // No user keeps the same place in most orders (a shuffle that misses some places would).
    for (let p = 0; p < N; p++) {
      const same = orders.filter((o) => o[p] === orders[0]![p]).length;
      expect(same, `place ${p}`).toBeLessThan(5);
    }
  });

  it("replays an opening from its seeds: the same seeds give the same order (math.random seeded inside the function)", async () => {
    const orders: string[] = [];
    for (const round of [1, 2]) {
      let next = 7;
      const f = await queueFixture({ shuffleSeeds: () => (next = (next * 48_271) % 2_147_483_647) });
      await beforeOpening(f);
      const early = named(`r${round}-`, 300);
      await joinAll(f.store, f.eventId, early);
      f.advance(MINUTE);
      expect(await open(f, 50)).toBeGreaterThan(1);
      orders.push((await line(f)).map((u) => u.slice(u.indexOf("-") + 1)).join(","));
    }
    expect(orders[1]).toBe(orders[0]);
    expect(orders[0]).not.toBe(named("", 300).join(","));
  });

  it("has no pre-queue when opens_at has passed: joins are FIFO and admitted as usual", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, { opensAtMs: (await redisNowMs(f.redis)) - MINUTE, admitRatePerSec: 1000, admitBurst: 1000 });
    const tickets = await joinAll(f.store, f.eventId, named("u", 3));
    expect(tickets.map((t) => t.position).sort()).toEqual([1, 2, 3]);
    for (const t of tickets) expect(t.opensAtMs).toBeUndefined();
    expect(await step(f)).toMatchObject({ admitted: 3, opening: OpeningPhase.NONE });
    expect(await f.store.stats(f.eventId)).toMatchObject({ kind: "stats", stats: { preQueue: 0 } });
  });

  it("keeps the pre-queue one unbroken run of seqs: a join after a regular join stays regular", async () => {
    const f = await queueFixture();
    const opensAtMs = await beforeOpening(f);
    await joinAll(f.store, f.eventId, ["early"]);
    // The sale start goes away and comes back before any admitter ran: "regular" joined in between.
    await f.store.configure(f.eventId, { opensAtMs: null });
    expect(await f.store.join(f.eventId, "regular")).toMatchObject({ kind: "joined", ticket: { position: 2 } });
    await f.store.configure(f.eventId, { opensAtMs });
    const late = await f.store.join(f.eventId, "late");
    expect(late).toMatchObject({ kind: "joined", ticket: { position: 3 } });
    expect(late.kind === "joined" && late.ticket.opensAtMs).toBeUndefined();
    expect(await f.store.stats(f.eventId)).toMatchObject({ kind: "stats", stats: { waiting: 3, preQueue: 1 } });
    f.advance(MINUTE);
    expect(await open(f, 100)).toBe(1);
    expect(await line(f)).toEqual(["early", "regular", "late"]);
  });

  it("shuffles at once when opens_at is removed, and an empty pre-queue opens in one call", async () => {
    const f = await queueFixture();
    await beforeOpening(f);
    await joinAll(f.store, f.eventId, named("early", 20));
    await f.store.configure(f.eventId, { opensAtMs: null });
    expect(await open(f, 100)).toBe(1);
    expect((await line(f)).length).toBe(20);
    expect(await step(f)).toMatchObject({ admitted: 20, opening: OpeningPhase.NONE });

    const g = await queueFixture();
    await beforeOpening(g);
    g.advance(MINUTE);
    expect(await step(g)).toMatchObject({ opening: OpeningPhase.NONE });
    expect((await queueLog(g)).filter((e) => e["type"] === "queue.shuffled")).toEqual([]);
  });
});

describe("watching the pre-queue", () => {
  it("reports position 0 with the opening time until the shuffle, then the user's place; later joiners keep theirs", async () => {
    const f = await queueFixture();
    const opensAtMs = await beforeOpening(f);
    const hub = testHub(f);
    const early = named("early", 50);
    await joinAll(f.store, f.eventId, early);
    const signal = new AbortController().signal;
    const watches = early.map((u) => hub.watch(f.eventId, u, signal));
    for (const w of watches) {
      expect((await w.next()).value).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING, position: 0, opensAtMs } });
    }
    f.advance(MINUTE);
    await f.store.join(f.eventId, "late");
    const late = hub.watch(f.eventId, "late", signal);
    expect((await late.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 51 } });
    // A pre-queue user leaving moves the later joiner up, and nobody else.
    await f.store.leave(f.eventId, "early49");
    expect((await watches[49]!.next()).value).toMatchObject({ kind: "ticket", ticket: { state: T.LEFT } });
    expect((await late.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 50 } });

    await open(f, 7);
    const order = await line(f);
    const placed = await Promise.all(watches.slice(0, 49).map((w) => w.next()));
    placed.forEach((item, i) => {
      const value = item.value as WatchItem;
      expect(value).toMatchObject({ kind: "ticket", ticket: { state: T.WAITING, position: order.indexOf(early[i] as string) + 1 } });
      expect(value.kind === "ticket" && value.ticket.opensAtMs).toBeUndefined();
    });

    // From here positions follow the new order: admitting the head moves everyone up by one.
    await f.store.admit(f.eventId, { maxAdmissions: 1 });
    const head = early.indexOf(order[0] as string);
    expect((await watches[head]!.next()).value).toMatchObject({ kind: "ticket", ticket: { state: T.ADMITTED } });
    const second = early.indexOf(order[1] as string);
    expect((await watches[second]!.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 1 } });
    expect((await late.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 49 } });
  });
});

describe("admissions right after the opening", () => {
  it("reach pre-queue watchers that are still waiting to be read again, with their pass times", async () => {
    const f = await queueFixture();
    await beforeOpening(f);
    // One ticket read per tick: most watchers are still unread when the admissions come.
    const hub = testHub(f, { batchSize: 1, rereadBatches: 1 });
    const early = named("early", 40);
    await joinAll(f.store, f.eventId, early);
    const signal = new AbortController().signal;
    const watches = early.map((u) => hub.watch(f.eventId, u, signal));
    for (const w of watches) expect((await w.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 0 } });
    f.advance(MINUTE);
    await open(f, 1000);
    expect(await step(f)).toMatchObject({ admitted: 40, opening: OpeningPhase.NONE });
    for (const w of watches) {
      let item: WatchItem;
      do {
        item = (await w.next()).value as WatchItem;
        expect(item.kind).toBe("ticket");
      } while (item.kind === "ticket" && item.ticket.state === T.WAITING);
      expect(item).toMatchObject({ kind: "ticket", ticket: { state: T.ADMITTED, issuedAtMs: expect.any(Number), expiresAtMs: expect.any(Number) } });
      expect((await w.next()).done).toBe(true);
    }
  });
});

describe("places after the opening", () => {
  it("read in several batches at once and sent over several turns stay exact while admissions move the line", async () => {
    const f = await queueFixture();
    await beforeOpening(f);
    // 700 watchers in batches of 100: one tick reads them all, and their places take three slices to send.
    const hub = testHub(f, { batchSize: 100 });
    const early = named("early", 700);
    await joinAll(f.store, f.eventId, early);
    const signal = new AbortController().signal;
    const watches = early.map((u) => hub.watch(f.eventId, u, signal));
    for (const w of watches) expect((await w.next()).value).toMatchObject({ kind: "ticket", ticket: { position: 0 } });
    f.advance(MINUTE);
    await open(f, 1000);
    // Admissions at once, while places are being read and sent: 30, then 20 more.
    expect(await f.store.admit(f.eventId, { maxAdmissions: 30 })).toMatchObject({ admitted: 30 });
    expect(await f.store.admit(f.eventId, { maxAdmissions: 20 })).toMatchObject({ admitted: 20 });
    const order = await line(f);
    expect(order.length).toBe(650);
    // Each stream's places only fall, and end on its place in the line (or its pass, for the 50 admitted).
    await Promise.all(
      watches.map(async (w, i) => {
        const user = early[i] as string;
        const want = order.indexOf(user) + 1;
        let last = Number.POSITIVE_INFINITY;
        for (;;) {
          const item = (await w.next()).value as WatchItem;
          if (item.kind !== "ticket") throw new Error(`${user}: ${item.kind}`);
          if (item.ticket.state === T.ADMITTED) {
            expect(want, `${user} admitted`).toBe(0);
            return;
          }
          expect(item.ticket.position, `${user} moved back`).toBeLessThanOrEqual(last);
          last = item.ticket.position;
          if (want > 0 && last === want) return;
        }
      }),
    );
  });
});
