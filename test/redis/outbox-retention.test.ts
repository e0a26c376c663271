import { describe, expect, it } from "vitest";
import { QueueStore } from "../../src/queue/queue-store.js";
import { loadQueueScripts, type QueueScriptName } from "../../src/queue/scripts.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { trimBefore } from "../../src/redis/event-log.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { redisNowMs } from "../queue/fixtures.js";
import { grid } from "../seats/fixtures.js";
import { entriesAfter, outboxFixture, type OutboxFixture } from "./outbox-fixture.js";

const HOUR = 3_600_000;
const MAP = { sections: [grid("A", 1, 4)], tiers: [] };

/**
 * Old and recent entries with ids set by hand (XADD with an explicit id),
 * shaped like real ones: `old` two hours back, `recent` half an hour back.
 * With an hour of retention the threshold falls between them by a wide
 * margin, whatever the test's own timing.
 */
async function seed(f: OutboxFixture, old: number, recent: number): Promise<{ oldIds: string[]; recentIds: string[] }> {
  const now = await redisNowMs(f.redis);
  const add = async (ms: number, n: number, prefix: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${ms}-${i}`;
      await f.redis.xadd(f.log, id, "type", "queue.joined", "user", `${prefix}${i}`, "seq", String(i + 1));
      ids.push(id);
    }
    return ids;
  };
  return { oldIds: await add(now - 2 * HOUR, old, "old"), recentIds: await add(now - HOUR / 2, recent, "recent") };
}

/** Most entries one stream node holds: `XADD … MINID ~` removes whole nodes only. */
async function nodeSize(f: OutboxFixture): Promise<number> {
  const [, value] = (await f.redis.config("GET", "stream-node-max-entries")) as [string, string];
  return Number(value);
}

async function ids(f: OutboxFixture): Promise<string[]> {
  return (await entriesAfter(f)).map((e) => e.id);
}

/** Writers that append one entry; each must trim what is older than the retention on the way. */
const WRITERS: ReadonlyArray<{ readonly name: string; readonly write: (f: OutboxFixture) => Promise<unknown> }> = [
  { name: "configureQueue", write: (f) => f.queue.configure(f.eventId, {}) },
  { name: "loadSeatMap", write: (f) => f.seats.loadSeatMap(f.eventId, MAP) },
];

describe("outbox retention", () => {
  it("computes the trim threshold from the store's clock, or keeps everything", () => {
    expect(trimBefore(undefined, 1_000_000)).toBe("0");
    expect(trimBefore(0, 1_000_000)).toBe("0");
    expect(trimBefore(HOUR, 10 * HOUR + 0.5)).toBe(String(9 * HOUR));
    expect(trimBefore(HOUR, HOUR / 2)).toBe("0");
    expect(() => new QueueStore(outboxFixture().redis, { retentionMs: -1 })).toThrow(RangeError);
  });

  it.each(WRITERS)("$name trims entries older than the retention as it appends (whole stream nodes)", async ({ write }) => {
    const f = outboxFixture({ retentionMs: HOUR });
    const size = await nodeSize(f);
    const { oldIds, recentIds } = await seed(f, 3 * size, 20);
    await write(f);
    const left = await ids(f);
    // Nothing within the retention goes, the new entry included.
    expect(left.slice(-21, -1)).toEqual(recentIds);
    expect(left).toHaveLength(left.filter((id) => oldIds.includes(id)).length + 21);
    // Older entries survive only in the node that holds the first entry kept.
    expect(left.filter((id) => oldIds.includes(id)).length).toBeLessThan(size);
  });

  it("keeps everything when the store has no retention", async () => {
    const f = outboxFixture();
    const { oldIds, recentIds } = await seed(f, 250, 5);
    await f.queue.configure(f.eventId, {});
    expect((await ids(f)).slice(0, -1)).toEqual([...oldIds, ...recentIds]);
  });

  it("never trims the entry it appends, even with a clock far ahead of Redis", async () => {
    const f = outboxFixture({ retentionMs: HOUR });
    await seed(f, 250, 0);
    f.advance(3 * HOUR);
    await f.queue.configure(f.eventId, {});
    const entries = await entriesAfter(f);
    expect(entries.at(-1)?.fields).toMatchObject({ type: "queue.configured", created: "1" });
    expect(entries.length).toBeLessThan(await nodeSize(f));
  });

  it("refuses a threshold that is not a time, before writing", async () => {
    const f = outboxFixture();
    const k = f.queue.keys(f.eventId);
    const runner = new ScriptRunner<QueueScriptName>(f.redis, loadQueueScripts());
    await expect(runner.run("configureQueue", [k.config, k.log], ["soon", "", "", "", "", "", "", "", "0"])).rejects.toThrow(/trim threshold/);
    expect(await f.redis.exists(k.config, k.log)).toBe(0);
  });

  describe.each([
    { name: "idle-waiter sweeper", sweep: (f: OutboxFixture) => f.queue.sweep(f.eventId, 10) },
    { name: "hold reaper", sweep: (f: OutboxFixture) => f.seats.sweep(f.eventId, 10) },
  ])("the $name", ({ sweep }) => {
    it("trims exactly what is older than the retention, for an event nobody writes to", async () => {
      const f = outboxFixture({ retentionMs: HOUR });
      const { recentIds } = await seed(f, 250, 30);
      // The event's setup appends without retention, as a write long ago would have.
      const keep = { keyPrefix: f.keyPrefix };
      await new QueueStore(f.redis, keep).configure(f.eventId, {});
      await new SeatStore(f.redis, keep).loadSeatMap(f.eventId, MAP);
      const setup = (await ids(f)).slice(-2);
      expect(await ids(f)).toHaveLength(250 + 30 + 2);

      expect(await sweep(f)).toMatchObject({ kind: "swept" });
      expect(await ids(f)).toEqual([...recentIds, ...setup]);
      // Nothing left to trim: a second sweep changes nothing.
      await sweep(f);
      expect(await ids(f)).toEqual([...recentIds, ...setup]);
    });
  });
});
