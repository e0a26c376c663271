import { describeLibrary, occurrences } from "../support/functions.js";
import { describe, expect, it, onTestFinished } from "vitest";
import { FeedStore } from "../../src/feed/feed-store.js";
import { loadFeedScripts } from "../../src/feed/scripts.js";
import type { DeliveryPolicy, FeedEntry } from "../../src/feed/types.js";
import { FeedOutcome, Outcome, StoredBackoff } from "../../src/redis/outcomes.js";
import { connectRedis, uniqueId } from "../support/redis.js";

const VISIBILITY = 30_000;

function fixture(policy: Partial<DeliveryPolicy> = {}) {
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  let skew = 0;
  const store = new FeedStore(redis, {
    keyPrefix: `${uniqueId("p")}:`,
    policy: { visibilityTimeoutMs: VISIBILITY, backoff: StoredBackoff.FIXED, backoffBaseMs: 0, backoffMaxMs: 0, maxDeliveries: 5, ...policy },
    clockSkewMs: () => skew,
  });
  const eventId = uniqueId();
  const k = store.keys(eventId, "g");
  return {
    redis,
    store,
    eventId,
    k,
    advance: (ms: number) => (skew += ms),
    append: async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push((await redis.xadd(k.log, "*", "type", "queue.joined", "user", `u${i}`, "seq", String(i))) as string);
      return ids;
    },
    deliver: async (consumer: string, maxInFlight = 100): Promise<FeedEntry[]> => {
      const result = await store.deliver({ eventId, group: "g", consumer, maxInFlight, types: [] });
      if (result.kind !== "delivered") throw new Error(result.kind);
      return [...result.entries];
    },
  };
}

describe("feed scripts", () => {
  it("are pinned by the SHA of their library text, so a change to a script or its prelude is deliberate", () => {
    // Update with `npx vitest run test/feed/feed-store.test.ts -u` after reviewing the change.
    expect(describeLibrary(loadFeedScripts())).toMatchSnapshot();
  });

  it("define the outcome codes from TypeScript once, in the library's prelude", () => {
    const library = loadFeedScripts();
    for (const [name, code] of Object.entries({ ...Outcome, ...FeedOutcome })) {
      expect(occurrences(library.source, `\nlocal ${name} = ${code}\n`)).toBe(1);
    }
  });

  it("report a group that does not exist instead of creating it", async () => {
    const { store, eventId } = fixture();
    expect(await store.deliver({ eventId, group: "nobody", consumer: "c", maxInFlight: 10, types: [] })).toEqual({ kind: "group_not_found" });
    expect(await store.deadLetters(eventId, "nobody", undefined, 10)).toEqual({ kind: "group_not_found" });
    expect(await store.replay(eventId, "nobody", "all")).toEqual({ kind: "group_not_found" });
    expect(await store.openGroup(eventId, "g", { kind: "now" })).toEqual({ kind: "created" });
    expect(await store.openGroup(eventId, "g", { kind: "beginning" })).toEqual({ kind: "exists" });
  });

  it("complete a group whose replay stream was deleted, instead of failing every step", async () => {
    const { store, eventId, redis } = fixture();
    const k = store.keys(eventId, "g");
    await store.openGroup(eventId, "g", { kind: "now" });
    await redis.del(k.replay);
    expect(await store.deliver({ eventId, group: "g", consumer: "c", maxInFlight: 10, types: [] })).toEqual({ kind: "group_not_found" });
    expect(await store.openGroup(eventId, "g", { kind: "now" })).toEqual({ kind: "exists" });
    expect(await store.deliver({ eventId, group: "g", consumer: "c", maxInFlight: 10, types: [] })).toMatchObject({ kind: "delivered" });
  });
});

describe("redelivery backoff", () => {
  it("linear: each redelivery waits the visibility timeout plus base × deliveries so far", async () => {
    const f = fixture({ backoff: StoredBackoff.LINEAR, backoffBaseMs: 60_000, backoffMaxMs: 600_000 });
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    const [id] = await f.append(1);
    expect((await f.deliver("a")).map((e) => e.deliveryCount)).toEqual([1]);
    f.advance(VISIBILITY + 30_000);
    expect(await f.deliver("b")).toEqual([]);
    f.advance(30_000);
    expect((await f.deliver("b")).map((e) => [e.id, e.deliveryCount])).toEqual([[id, 2]]);
    f.advance(VISIBILITY + 90_000);
    expect(await f.deliver("a")).toEqual([]);
    f.advance(30_000);
    expect((await f.deliver("a")).map((e) => [e.id, e.deliveryCount])).toEqual([[id, 3]]);
  });

  it("exponential: the delay doubles up to the cap, jittered below it", async () => {
    const f = fixture({ backoff: StoredBackoff.EXPONENTIAL, backoffBaseMs: 60_000, backoffMaxMs: 100_000 });
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    await f.append(20);
    await f.deliver("a");
    // Every entry is due within visibility + base; all come back together.
    f.advance(VISIBILITY + 60_000);
    expect((await f.deliver("a")).map((e) => e.deliveryCount)).toEqual(Array(20).fill(2));
    // Second retry: up to min(2 × base, cap) = cap.
    f.advance(VISIBILITY + 100_000);
    expect((await f.deliver("a")).map((e) => e.deliveryCount)).toEqual(Array(20).fill(3));
    const scores = (await f.redis.zrange(f.k.due, "0", "-1", "WITHSCORES")).filter((_, i) => i % 2 === 1).map(Number);
    // Jittered: not all due at the same moment.
    expect(new Set(scores).size).toBeGreaterThan(1);
  });

  it("gives a full consumer its own due entries again, but nobody else's", async () => {
    const f = fixture();
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    const ids = await f.append(4);
    expect((await f.deliver("full", 2)).map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect((await f.deliver("other", 2)).map((e) => e.id)).toEqual(ids.slice(2));
    f.advance(VISIBILITY);
    expect((await f.deliver("full", 2)).map((e) => [e.id, e.deliveryCount])).toEqual(ids.slice(0, 2).map((id) => [id, 2]));
    const result = await f.store.deliver({ eventId: f.eventId, group: "g", consumer: "full", maxInFlight: 2, types: [] });
    expect(result).toEqual({ kind: "delivered", entries: [], inFlight: 2, more: false });
  });

  it("hands each entry to one consumer only, however many ask at once", async () => {
    const f = fixture();
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    const ids = await f.append(200);
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => f.deliver(`c${i}`, 30)));
    const all = got.flat().map((e) => e.id);
    expect(all.length).toBe(200);
    expect(new Set(all).size).toBe(200);
    expect([...all].sort()).toEqual([...ids].sort());
    expect(got.every((batch) => batch.length <= 30)).toBe(true);
  });

  it("tells replayed ids (0-n) from outbox ids, so an Ack reaches the right stream", async () => {
    const f = fixture({ maxDeliveries: 1 });
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    const [id] = await f.append(1);
    await f.deliver("a");
    f.advance(VISIBILITY);
    expect(await f.deliver("a")).toEqual([]);
    expect(await f.store.replay(f.eventId, "g", "all")).toEqual({ kind: "replayed", replayed: 1 });
    const [replayed] = await f.deliver("a");
    expect(replayed).toMatchObject({ id: "0-1", replayedFromId: id, deliveryCount: 1 });
    expect(await f.store.ack(f.eventId, "g", [id as string])).toBe(0);
    expect(await f.store.ack(f.eventId, "g", ["0-1"])).toBe(1);
    expect(await f.redis.xlen(f.k.replay)).toBe(0);
  });

  it("acknowledges and replays each entry once under concurrent calls", async () => {
    const f = fixture({ maxDeliveries: 1 });
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    const ids = await f.append(10);
    await f.deliver("a");
    const acked = await Promise.all(Array.from({ length: 6 }, () => f.store.ack(f.eventId, "g", ids.slice(0, 5))));
    expect(acked.reduce((a, b) => a + b, 0)).toBe(5);
    f.advance(VISIBILITY);
    await f.deliver("a");
    const page = await f.store.deadLetters(f.eventId, "g", undefined, 10);
    if (page.kind !== "page") throw new Error(page.kind);
    expect(page.deadLetters.map((d) => d.originalId)).toEqual(ids.slice(5));
    const letters = page.deadLetters.map((d) => d.id);
    const replays = await Promise.all(Array.from({ length: 6 }, () => f.store.replay(f.eventId, "g", letters)));
    expect(replays.reduce((n, r) => n + (r.kind === "replayed" ? r.replayed : 0), 0)).toBe(5);
    expect(await f.redis.xlen(f.k.replay)).toBe(5);
  });
});

describe("stats", () => {
  it("skip a group whose stream is gone", async () => {
    const f = fixture();
    await f.store.openGroup(f.eventId, "g", { kind: "beginning" });
    await f.append(2);
    expect((await f.store.stats(f.eventId)).groups.map((g) => g.group)).toEqual(["g"]);
    await f.redis.del(f.k.log);
    expect(await f.store.stats(f.eventId)).toEqual({ length: 0, firstId: undefined, lastId: undefined, groups: [] });
  });
});
