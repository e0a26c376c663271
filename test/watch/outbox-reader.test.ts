import pino from "pino";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { eventLogKey } from "../../src/redis/event-log.js";
import { OutboxReader, type OutboxConsumer, type OutboxRead } from "../../src/watch/outbox-reader.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/**
 * A reader that only ticks when woken (or when a consumer asks for more), so
 * each test decides what the stream holds at every read.
 */
function setup(maxEntriesPerRead = 100, options: { intervalMs?: number; retryGraceMs?: number } = {}) {
  const redis = connectRedis();
  const prefix = `${uniqueId("p")}:`;
  const reader = new OutboxReader(redis, {
    keyPrefix: prefix,
    intervalMs: options.intervalMs ?? 3_600_000,
    maxEntriesPerRead,
    retryGraceMs: options.retryGraceMs,
    logger: pino({ level: "silent" }),
  });
  onTestFinished(async () => {
    await reader.close();
    await redis.quit();
  });
  const eventId = uniqueId();
  const key = eventLogKey(prefix, eventId);
  return {
    redis,
    reader,
    eventId,
    key,
    add: (type: string, ...fields: string[]) => redis.xadd(key, "*", "type", type, ...fields) as Promise<string>,
    /** Wakes the event's feed and resolves once that tick has finished. */
    async tick(): Promise<void> {
      const done = reader.ticked(eventId);
      reader.wake(eventId);
      await done;
    },
  };
}

function recorder() {
  const reads: OutboxRead[] = [];
  const failures: unknown[] = [];
  const consumer: OutboxConsumer = {
    async tick(read) {
      reads.push(await read);
      return false;
    },
    failed(cause) {
      failures.push(cause);
    },
  };
  return { reads, failures, consumer };
}

describe("OutboxReader", () => {
  it("reads each event once per tick and hands the same entries, of every type, to each consumer", async () => {
    const s = setup();
    await s.add("queue.joined", "user", "u1", "seq", "1");
    const a = recorder();
    const b = recorder();
    s.reader.subscribe(s.eventId, a.consumer);
    s.reader.subscribe(s.eventId, b.consumer);
    // The first tick starts at the newest entry: what came before is in the consumers' own reads.
    await s.reader.ticked(s.eventId);
    expect(a.reads).toEqual([{ kind: "entries", entries: [], cursor: expect.any(String) }]);

    const xrange = vi.spyOn(s.redis, "xrange");
    const ids = [
      await s.add("queue.left", "user", "u1", "seq", "1"),
      await s.add("seat.map_loaded", "sections", "1", "seats", "2", "tiers", "0", "capacity", "2", "replaced", "0"),
      await s.add("some.future_type", "anything", "at all"),
      await s.add("queue.configured", "user", "", "seq", "0", "created", "0"),
    ];
    await s.tick();
    expect(xrange).toHaveBeenCalledTimes(1);
    const read = a.reads.at(-1);
    expect(b.reads.at(-1)).toBe(read);
    if (read?.kind !== "entries") throw new Error(`read: ${read?.kind}`);
    expect(read.entries.map((e) => [e.id, e.type])).toEqual([
      [ids[0], "queue.left"],
      [ids[1], "seat.map_loaded"],
      [ids[2], "some.future_type"],
      [ids[3], "queue.configured"],
    ]);
    expect(read.entries[0]?.field("user")).toBe("u1");
    expect(read.entries[2]?.field("user")).toBeUndefined();
    expect(read.cursor).toBe(ids[3]);

    // Nothing new: an empty read from the same cursor.
    await s.tick();
    expect(a.reads.at(-1)).toEqual({ kind: "entries", entries: [], cursor: ids[3] });
    expect(s.reader.eventsRead).toBe(1);
    s.reader.unsubscribe(s.eventId, a.consumer);
    s.reader.unsubscribe(s.eventId, b.consumer);
    await s.reader.ticked(s.eventId);
    expect(s.reader.eventsRead).toBe(0);
  });

  it("reports a resync when retention trimmed the cursor away, and goes on from the newest entry", async () => {
    const s = setup();
    await s.add("queue.joined", "user", "u1", "seq", "1");
    const r = recorder();
    s.reader.subscribe(s.eventId, r.consumer);
    await s.reader.ticked(s.eventId);
    await s.add("queue.left", "user", "u1", "seq", "1");
    // Everything up to and including the cursor goes, and an entry after it with it.
    await s.redis.xtrim(s.key, "MAXLEN", 0);
    const newest = await s.add("queue.joined", "user", "u2", "seq", "2");
    await s.tick();
    expect(r.reads.at(-1)).toEqual({ kind: "resync", cursor: newest });
    const next = await s.add("queue.left", "user", "u2", "seq", "2");
    await s.tick();
    expect(r.reads.at(-1)).toMatchObject({ kind: "entries", cursor: next, entries: [{ id: next }] });
  });

  it("reports a resync when more entries arrived than one read takes", async () => {
    const s = setup(3);
    const r = recorder();
    s.reader.subscribe(s.eventId, r.consumer);
    await s.reader.ticked(s.eventId);
    for (let i = 0; i < 3; i++) await s.add("queue.joined", "user", `u${i}`, "seq", String(i));
    await s.tick();
    expect(r.reads.at(-1)).toMatchObject({ kind: "entries", entries: [{}, {}, {}] });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await s.add("queue.joined", "user", `v${i}`, "seq", String(i)));
    await s.tick();
    expect(r.reads.at(-1)).toEqual({ kind: "resync", cursor: ids[3] });
  });

  it("wakes callers of changed after a read that found entries, and rejects with the abort reason", async () => {
    const s = setup();
    const controller = new AbortController();
    const first = s.reader.changed(s.eventId, controller.signal);
    await s.reader.ticked(s.eventId);
    let woken = false;
    void first.then(() => (woken = true));
    await s.tick();
    expect(woken).toBe(false);
    await s.add("seat.held", "hold", "h1", "user", "u1", "seats", "A|1|A1", "tier", "", "quantity", "1", "expires", "1");
    await s.tick();
    await first;

    const aborted = s.reader.changed(s.eventId, controller.signal);
    const reason = new Error("caller gone");
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
  });

  it("fails its consumers when Redis cannot be read", async () => {
    const s = setup();
    const r = recorder();
    s.reader.subscribe(s.eventId, r.consumer);
    await s.reader.ticked(s.eventId);
    vi.spyOn(s.redis, "xrange").mockRejectedValueOnce(new Error("connection lost"));
    await s.tick();
    expect(r.failures).toEqual([new Error("connection lost")]);
    expect(s.reader.eventsRead).toBe(0);
  });

  it("hands a consumer whose tick failed the same entries again, ahead of the next read's, while the others go on", async () => {
    // A short interval: a failed tick is retried after a backoff that nothing but time ends.
    const s = setup(100, { intervalMs: 10, retryGraceMs: 60_000 });
    const steady = applier();
    const failing = applier();
    s.reader.subscribe(s.eventId, steady.consumer);
    s.reader.subscribe(s.eventId, failing.consumer);
    await s.reader.ticked(s.eventId);
    // Its next two ticks fail after the shared read worked: as when its own script times out.
    failing.failTicks(2);
    const ids = [await s.add("queue.left", "user", "u1", "seq", "1"), await s.add("queue.left", "user", "u2", "seq", "2")];
    await failing.failedTicks(2);
    ids.push(await s.add("queue.left", "user", "u3", "seq", "3"));
    await Promise.all([steady.seen(3), failing.seen(3)]);
    // Each entry applied once, in order, by both.
    expect(steady.applied).toEqual(ids);
    expect(failing.applied).toEqual(ids);
    expect(failing.failures).toEqual([]);
  });

  it("fails a consumer whose ticks keep failing once the grace has passed, having retried", async () => {
    const s = setup(100, { intervalMs: 10, retryGraceMs: 100 });
    const failing = applier();
    s.reader.subscribe(s.eventId, failing.consumer);
    await s.reader.ticked(s.eventId);
    failing.failTicks(Number.POSITIVE_INFINITY);
    await failing.failedTicks(1);
    await failing.ended;
    expect(failing.failures).toEqual([new Error("tick failed")]);
    expect(failing.attempts).toBeGreaterThan(1);
    await s.reader.ticked(s.eventId);
    expect(s.reader.eventsRead).toBe(0);
  });
});

/**
 * A consumer that applies the entries of each read it is handed, unless told
 * to fail its next ticks (after the read worked: its own part failed).
 */
function applier() {
  const applied: string[] = [];
  const failures: unknown[] = [];
  let toFail = 0;
  let failed = 0;
  let attempts = 0;
  const waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];
  const settle = (): void => {
    for (const waiter of waiters.filter((w) => w.ready())) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const until = (ready: () => boolean): Promise<void> => (ready() ? Promise.resolve() : new Promise((resolve) => waiters.push({ ready, resolve })));
  let end = (): void => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const consumer: OutboxConsumer = {
    async tick(read) {
      const outbox = await read;
      attempts++;
      if (toFail > 0) {
        toFail--;
        failed++;
        settle();
        throw new Error("tick failed");
      }
      if (outbox.kind !== "entries") throw new Error(`unexpected ${outbox.kind}`);
      applied.push(...outbox.entries.map((e) => e.id));
      settle();
      return false;
    },
    failed(cause) {
      failures.push(cause);
      end();
    },
  };
  return {
    consumer,
    applied,
    failures,
    ended,
    get attempts() {
      return attempts;
    },
    failTicks(n: number): void {
      toFail = n;
    },
    failedTicks: (n: number) => until(() => failed >= n),
    seen: (n: number) => until(() => applied.length >= n),
  };
}
