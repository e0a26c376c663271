import type { Redis } from "ioredis";
import pino from "pino";
import { describe, expect, it, onTestFinished } from "vitest";
import { eventLogKey } from "../../src/redis/event-log.js";
import { OutboxNotifications, type ShardedSubscriber } from "../../src/watch/outbox-notifications.js";
import { OutboxReader, type OutboxConsumer } from "../../src/watch/outbox-reader.js";
import { queueFixture, type QueueFixture } from "../queue/fixtures.js";
import { connectRedis } from "../support/redis.js";

const HOUR = 3_600_000;
const logger = pino({ level: "silent" });

/** A subscriber connection of its own that tells the test when Redis has confirmed each subscription. */
function subscriber(): { connection: Redis; subscribed: (channel: string) => Promise<void> } {
  const connection = connectRedis();
  onTestFinished(() => connection.disconnect());
  const confirmed = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const slot = (channel: string) => {
    let entry = confirmed.get(channel);
    if (!entry) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      confirmed.set(channel, entry);
    }
    return entry;
  };
  const ssubscribe = connection.ssubscribe.bind(connection);
  Object.assign(connection, {
    ssubscribe: async (channel: string) => {
      const reply = await ssubscribe(channel);
      slot(channel).resolve();
      return reply;
    },
  });
  return { connection, subscribed: (channel) => slot(channel).promise };
}

/** A reader that never polls (an hour between reads): only a notification can make it read again. */
function notifiedReader(f: QueueFixture, followGapMs = 0) {
  const sub = subscriber();
  /** Resolves with the next message the reader's connection receives (after the reader has handled it). */
  const nextMessage = (): Promise<string> =>
    new Promise((resolve) => {
      sub.connection.once("smessage", (_channel: string, message: string) => resolve(message));
    });
  const reader = new OutboxReader(f.redis, {
    keyPrefix: f.keyPrefix,
    intervalMs: HOUR,
    maxEntriesPerRead: 100,
    logger,
    notifications: new OutboxNotifications(sub.connection as ShardedSubscriber, logger),
    followGapMs,
  });
  onTestFinished(() => reader.close());
  return { reader, nextMessage, subscribed: () => sub.subscribed(eventLogKey(f.keyPrefix, f.eventId)) };
}

/** Messages on the event's channel, from a plain connection; `until` publishes a marker and resolves with what came before it. */
async function listen(f: QueueFixture) {
  const channel = eventLogKey(f.keyPrefix, f.eventId);
  const connection = connectRedis();
  onTestFinished(() => connection.disconnect());
  const messages: string[] = [];
  let marker: ((seen: string[]) => void) | undefined;
  connection.on("smessage", (_channel: string, message: string) => {
    if (message === "marker") {
      marker?.(messages.splice(0));
    } else {
      messages.push(message);
    }
  });
  await connection.ssubscribe(channel);
  return {
    until: (): Promise<string[]> =>
      new Promise((resolve) => {
        marker = resolve;
        void f.redis.spublish(channel, "marker");
      }),
  };
}

describe("outbox notifications", () => {
  it("are published once per appending call, with the id of its first entry", async () => {
    const f = await queueFixture();
    const heard = await listen(f);
    await f.store.configure(f.eventId, { admitRatePerSec: 0.004, admitBurst: 3, idleTimeoutSeconds: 3600 });
    await f.store.join(f.eventId, "u1");
    await f.store.join(f.eventId, "u2");
    await f.store.join(f.eventId, "u3");
    await f.store.leave(f.eventId, "u3");
    const single = await heard.until();
    const log = await f.redis.xrange(eventLogKey(f.keyPrefix, f.eventId), "-", "+");
    expect(single).toEqual(log.map(([id]) => id));
    expect(log).toHaveLength(5);

    // One admission call appends an entry per admitted user, and notifies once.
    const admitted = await f.store.admit(f.eventId);
    expect(admitted).toMatchObject({ kind: "admission", admitted: 2 });
    const after = await f.redis.xrange(eventLogKey(f.keyPrefix, f.eventId), "-", "+");
    const admissions = after.slice(log.length);
    expect(admissions.map(([, fields]) => fields[1])).toEqual(["queue.admitted", "queue.admitted"]);
    expect(await heard.until()).toEqual([admissions[0]?.[0]]);
  });

  it("make a reader that is not due to poll for an hour read an append at once", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, {});
    const { reader, subscribed } = notifiedReader(f);
    const seen: string[] = [];
    let expected = "";
    let arrived = (): void => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const consumer: OutboxConsumer = {
      async tick(read) {
        const outcome = await read;
        if (outcome.kind === "entries") {
          seen.push(...outcome.entries.map((e) => e.id));
          if (seen.includes(expected)) arrived();
        }
        return false;
      },
      failed: () => undefined,
    };
    reader.subscribe(f.eventId, consumer);
    await reader.ticked(f.eventId);
    await subscribed();
    // The subscription's confirmation itself makes one more read: let it pass, so only the append's notification is left.
    await reader.ticked(f.eventId);
    const joined = await f.store.join(f.eventId, "u1");
    expect(joined.kind).toBe("joined");
    const [[id]] = (await f.redis.xrevrange(eventLogKey(f.keyPrefix, f.eventId), "+", "-", "COUNT", 1)) as [[string, string[]]];
    expected = id;
    if (seen.includes(id)) arrived();
    await arrival;
    expect(seen).toEqual([id]);
  });

  it("wake a follower that waits, and one that came between two waits is kept for the next", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, {});
    const { reader, nextMessage, subscribed } = notifiedReader(f);
    const follow = reader.follow(f.eventId, HOUR);
    onTestFinished(() => follow.close());
    await subscribed();
    const signal = new AbortController().signal;
    // The confirmed subscription is reported as a possible loss: that wake first.
    await follow.wait(signal);

    // Waiting first: the notification ends the wait.
    const waiting = follow.wait(signal);
    await f.store.join(f.eventId, "u1");
    await waiting;

    // Notified while nobody waited (a delivery step was running): the next wait ends at once.
    const noticed = nextMessage();
    await f.store.join(f.eventId, "u2");
    await noticed;
    await follow.wait(signal);

    // Once taken, a notification is gone: the next wait waits (until aborted).
    const controller = new AbortController();
    const idle = follow.wait(controller.signal);
    const reason = new Error("subscriber gone");
    controller.abort(reason);
    await expect(idle).rejects.toBe(reason);
    expect(reader.eventsRead).toBe(1);
    follow.close();
    expect(reader.eventsRead).toBe(0);
  });

  it("wake a follower at most once per gap: a notification soon after a look waits for the gap's end", async () => {
    const f = await queueFixture();
    await f.store.configure(f.eventId, {});
    const { reader, nextMessage, subscribed } = notifiedReader(f, HOUR);
    const follow = reader.follow(f.eventId, HOUR);
    onTestFinished(() => follow.close());
    await subscribed();
    // The first look is not held back (none came before it).
    await follow.wait(new AbortController().signal);
    const noticed = nextMessage();
    await f.store.join(f.eventId, "u1");
    await noticed;
    const controller = new AbortController();
    const held = follow.wait(controller.signal);
    const reason = new Error("subscriber gone");
    controller.abort(reason);
    await expect(held).rejects.toBe(reason);
  });
});
