import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService, QueueState, TicketState } from "../../gen/boxoffice/v1/queue_pb.js";
import { HoldState, SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { failureOf, pull } from "../support/outage.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * What the README's "Retries and unknown outcomes" promises, RPC by RPC: a
 * state-changing call sent again with the same request (as after UNAVAILABLE
 * or DEADLINE_EXCEEDED, when the first may have taken effect) converges on
 * the first one's effect and answers success, not an error about itself.
 */

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

/** The same call twice in a row: the first's answer and the repeat's. */
async function twice<T>(call: () => Promise<T>): Promise<[T, T]> {
  const first = await call();
  return [first, await call()];
}

describe("a repeated call converges on the first one's effect", () => {
  it("QueueService: ConfigureQueue, Join and Leave", async () => {
    const queue = server.client(QueueService);
    const eventId = uniqueId();
    const [created, again] = await twice(() => queue.configureQueue({ eventId, state: QueueState.PAUSED, maxActive: 5 }));
    expect([created.created, again.created]).toEqual([true, false]);
    expect(again.config).toEqual(created.config);

    const [joined, rejoined] = await twice(() => queue.join({ eventId, userId: "ann" }));
    expect([joined.newlyJoined, rejoined.newlyJoined]).toEqual([true, false]);
    expect(rejoined.ticket?.position).toBe(joined.ticket?.position);
    expect((await queue.getQueueStats({ eventId })).stats).toMatchObject({ waiting: 1, joinedTotal: 1 });

    const [left, leftAgain] = await twice(() => queue.leave({ eventId, userId: "ann" }));
    expect([left.ticket?.state, leftAgain.ticket?.state]).toEqual([TicketState.LEFT, TicketState.LEFT]);
    expect((await queue.getQueueStats({ eventId })).stats).toMatchObject({ waiting: 0, joinedTotal: 1 });
  });

  it("SeatService: LoadSeatMap, HoldSeats (by request id), ExtendHold, ReleaseHold and ConfirmHold (by order id)", async () => {
    const seats = server.client(SeatService);
    const eventId = uniqueId();
    const map = { eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A-1", "A-2", "A-3"] }] }], maxSeatsPerUser: 3 };
    const [loaded, reloaded] = await twice(() => seats.loadSeatMap(map));
    expect([loaded.replaced, reloaded.replaced]).toEqual([false, true]);
    expect(reloaded.seatMap).toEqual(loaded.seatMap);

    const request = { eventId, userId: "ann", requestId: "req-1", selection: { case: "seats" as const, value: { seatIds: ["A-1"] } } };
    const [held, heldAgain] = await twice(() => seats.holdSeats(request));
    expect(heldAgain.hold).toEqual(held.hold);
    const holdId = held.hold!.holdId;

    const [extended, extendedAgain] = await twice(() => seats.extendHold({ eventId, userId: "ann", holdId, ttlSeconds: 900 }));
    expect([extended.hold?.state, extendedAgain.hold?.state]).toEqual([HoldState.HELD, HoldState.HELD]);
    expect(extendedAgain.hold!.expiresAt!.seconds).toBeGreaterThanOrEqual(extended.hold!.expiresAt!.seconds);

    const [confirmed, confirmedAgain] = await twice(() => seats.confirmHold({ eventId, userId: "ann", holdId, orderId: "order-1" }));
    expect(confirmedAgain.hold).toEqual(confirmed.hold);

    const other = await seats.holdSeats({ ...request, requestId: "req-2", selection: { case: "seats", value: { seatIds: ["A-2"] } } });
    const [released, releasedAgain] = await twice(() => seats.releaseHold({ eventId, userId: "ann", holdId: other.hold!.holdId }));
    expect([released.hold?.state, releasedAgain.hold?.state]).toEqual([HoldState.RELEASED, HoldState.RELEASED]);

    expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ available: 2, held: 0, sold: 1 });
  });

  it("ChangeFeedService: Ack and ReplayDeadLetters", async () => {
    const feed = server.client(ChangeFeedService);
    const queue = server.client(QueueService);
    const eventId = uniqueId();
    await queue.configureQueue({ eventId });
    const controller = new AbortController();
    const stream = pull(feed.subscribe({ eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING }, { signal: controller.signal }));
    const { events } = await stream.next();
    const ids = events.map((e) => e.id);
    expect(ids.length).toBeGreaterThan(0);
    const [acked, ackedAgain] = await twice(() => feed.ack({ eventId, group: "g", ids }));
    expect([acked.acknowledged, ackedAgain.acknowledged]).toEqual([ids.length, 0]);
    controller.abort();
    expect(failureOf(await stream.next().catch((e: unknown) => e)).code).toBe("Canceled");

    const [replayed, replayedAgain] = await twice(() => feed.replayDeadLetters({ eventId, group: "g", all: true }));
    expect([replayed.replayed, replayedAgain.replayed]).toEqual([0, 0]);
  });
});
