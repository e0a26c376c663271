import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import { ChangeEventSchema, SessionEndReason, type ChangeEvent } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { QueueStore } from "../../src/queue/queue-store.js";
import { ChangeType } from "../../src/redis/change-types.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { changeEventMessage } from "../../src/services/feed-convert.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/** Every entry of the event's outbox, decoded as Subscribe would send it. */
async function decodedLog(redis: Redis, prefix: string, eventId: string): Promise<ChangeEvent[]> {
  const entries = await redis.xrange(eventLogKey(prefix, eventId), "-", "+");
  return entries.map(([id, flat]) => {
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
    return create(ChangeEventSchema, changeEventMessage(eventId, { id, deliveryCount: 1, replayedFromId: undefined, fields }));
  });
}

function fixture() {
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  let skew = 0;
  const prefix = `${uniqueId("p")}:`;
  const options = { keyPrefix: prefix, clockSkewMs: () => skew };
  return { redis, prefix, queue: new QueueStore(redis, options), seats: new SeatStore(redis, options), advance: (ms: number) => (skew += ms) };
}

function ofType(events: ChangeEvent[], type: string): ChangeEvent {
  const event = events.find((e) => e.type === type);
  if (!event) throw new Error(`no ${type} among ${events.map((e) => e.type).join(", ")}`);
  return event;
}

describe("outbox entry → ChangeEvent", () => {
  it("decodes every queue change the queue scripts write", async () => {
    const { redis, prefix, queue, advance } = fixture();
    const eventId = uniqueId();
    const opensAtMs = Date.now() + 60_000;
    await queue.configure(eventId, { admitRatePerSec: 100, admitBurst: 10, idleTimeoutSeconds: 300, opensAtMs });
    await queue.join(eventId, "early1");
    await queue.join(eventId, "early2");
    advance(61_000);
    await queue.admit(eventId);
    await queue.admit(eventId);
    await queue.leave(eventId, "early1");
    await queue.join(eventId, "quitter");
    await queue.leave(eventId, "quitter");
    await queue.join(eventId, "sleeper");
    advance(400_000);
    await queue.sweep(eventId, 10);

    const events = await decodedLog(redis, prefix, eventId);
    expect(events.every((e) => e.eventId === eventId && e.deliveryCount === 1 && e.time !== undefined)).toBe(true);
    expect(events.every((e) => timestampMs(e.time!) === Number(e.id.split("-")[0]))).toBe(true);
    expect(ofType(events, ChangeType.QUEUE_JOINED).payload).toMatchObject({ case: "queueJoined", value: { userId: "early1", seq: 1n } });
    expect(ofType(events, ChangeType.QUEUE_SHUFFLED).payload).toMatchObject({ case: "queueShuffled", value: { firstSeq: 1n, lastSeq: 2n } });
    const admitted = ofType(events, ChangeType.QUEUE_ADMITTED).payload;
    expect(admitted.case).toBe("queueAdmitted");
    if (admitted.case === "queueAdmitted") {
      expect(admitted.value.seq > 0n).toBe(true);
      expect(timestampMs(admitted.value.passExpiresAt!) - timestampMs(admitted.value.passIssuedAt!)).toBe(600_000);
    }
    expect(ofType(events, ChangeType.QUEUE_SESSION_ENDED).payload).toMatchObject({
      case: "queueSessionEnded",
      value: { userId: "early1", reason: SessionEndReason.LEFT },
    });
    expect(ofType(events, ChangeType.QUEUE_LEFT).payload).toMatchObject({ case: "queueLeft", value: { userId: "quitter", seq: 3n } });
    expect(ofType(events, ChangeType.QUEUE_EXPIRED).payload).toMatchObject({ case: "queueExpired", value: { userId: "sleeper", seq: 4n } });
  });

  it("decodes every seat change the seat scripts write", async () => {
    const { redis, prefix, seats, advance } = fixture();
    const eventId = uniqueId();
    await seats.loadSeatMap(eventId, {
      sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2", "A3"] }] }],
      tiers: [{ tierId: "floor", capacity: 10 }],
    });
    await seats.hold(eventId, "alice", "h1", { kind: "seats", seatIds: ["A1", "A2"] });
    await seats.release(eventId, "h1", "alice");
    await seats.hold(eventId, "bob", "h2", { kind: "general_admission", tier: "floor", quantity: 3 });
    await seats.confirm(eventId, "h2", "bob", "order-7");
    await seats.hold(eventId, "carol", "h3", { kind: "seats", seatIds: ["A3"] });
    advance(3_600_000);
    await seats.sweep(eventId, 10);

    const events = await decodedLog(redis, prefix, eventId);
    const held = ofType(events, ChangeType.SEAT_HELD).payload;
    expect(held).toMatchObject({
      case: "seatHeld",
      value: {
        holdId: "h1",
        userId: "alice",
        tierId: "",
        quantity: 2,
        seats: [
          { seatId: "A1", sectionId: "A", rowId: "1" },
          { seatId: "A2", sectionId: "A", rowId: "1" },
        ],
      },
    });
    expect(held.case === "seatHeld" && held.value.expiresAt !== undefined).toBe(true);
    expect(ofType(events, ChangeType.SEAT_RELEASED).payload).toMatchObject({ case: "seatReleased", value: { holdId: "h1", quantity: 2 } });
    expect(ofType(events, ChangeType.SEAT_CONFIRMED).payload).toMatchObject({
      case: "seatConfirmed",
      value: { holdId: "h2", userId: "bob", tierId: "floor", quantity: 3, seats: [], orderId: "order-7" },
    });
    expect(ofType(events, ChangeType.SEAT_EXPIRED).payload).toMatchObject({
      case: "seatExpired",
      value: { holdId: "h3", userId: "carol", seats: [{ seatId: "A3", sectionId: "A", rowId: "1" }] },
    });
  });

  it("decodes the contract's queue.configured, seat.map_loaded and seat.extended entries", async () => {
    const { redis, prefix } = fixture();
    const eventId = uniqueId();
    const key = eventLogKey(prefix, eventId);
    const opensAt = 1_900_000_000_000;
    await redis.xadd(key, "*", "type", "queue.configured", "user", "", "seq", "0", "created", "1", "rate", "12.5", "burst", "13",
      "max_active", "100", "session_ttl", "600", "idle_timeout", "300", "opens_at", String(opensAt), "state", "2");
    await redis.xadd(key, "*", "type", "queue.configured", "user", "", "seq", "0", "created", "0", "rate", "10", "burst", "10",
      "max_active", "0", "session_ttl", "600", "idle_timeout", "300", "opens_at", "", "state", "1");
    await redis.xadd(key, "*", "type", "seat.map_loaded", "sections", "2", "seats", "40", "tiers", "1", "capacity", "140", "replaced", "1");
    await redis.xadd(key, "*", "type", "seat.extended", "hold", "h9", "user", "dora", "seats", "B|3|B3-1,B|3|B3-2", "tier", "",
      "quantity", "2", "expires", "1900000600000");
    await redis.xadd(key, "*", "type", "queue.joined", "user", "eve", "seq", "9", "pre", "1");
    await redis.xadd(key, "*", "type", "queue.renamed", "user", "x");

    const [configured, reconfigured, loaded, extended, joined, unknown] = await decodedLog(redis, prefix, eventId);
    expect(configured?.payload).toMatchObject({
      case: "queueConfigured",
      value: {
        created: true,
        config: { admitRatePerSec: 12.5, admitBurst: 13, maxActive: 100, sessionTtlSeconds: 600, idleTimeoutSeconds: 300, state: QueueState.PAUSED },
      },
    });
    const config = configured?.payload.case === "queueConfigured" ? configured.payload.value.config : undefined;
    expect(timestampMs(config!.opensAt!)).toBe(opensAt);
    expect(reconfigured?.payload).toMatchObject({ case: "queueConfigured", value: { created: false, config: { state: QueueState.OPEN } } });
    expect(reconfigured?.payload.case === "queueConfigured" && reconfigured.payload.value.config?.opensAt).toBeUndefined();
    expect(loaded?.payload).toMatchObject({ case: "seatMapLoaded", value: { sections: 2, seats: 40, tiers: 1, capacity: 140, replaced: true } });
    expect(extended?.payload).toMatchObject({
      case: "seatExtended",
      value: { holdId: "h9", userId: "dora", quantity: 2, seats: [{ seatId: "B3-1", sectionId: "B", rowId: "3" }, { seatId: "B3-2" }] },
    });
    expect(extended?.payload.case === "seatExtended" && timestampMs(extended.payload.value.expiresAt!)).toBe(1_900_000_600_000);
    expect(joined?.payload).toMatchObject({ case: "queueJoined", value: { userId: "eve", seq: 9n, preQueue: true } });
    // A type this version does not know still arrives, with its name and no payload.
    expect(unknown).toMatchObject({ type: "queue.renamed", payload: { case: undefined } });
  });
});
