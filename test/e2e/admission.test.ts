import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueService, QueueState, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { verifyPass } from "../../src/pass/pass.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ ADMIT_INTERVAL_MS: "20" });
});
afterAll(async () => {
  await server?.stop();
});

function pull(stream: AsyncIterable<WatchPositionResponse>) {
  const it = stream[Symbol.asyncIterator]();
  return async (): Promise<WatchPositionResponse> => {
    const r = await it.next();
    if (r.done) throw new Error("stream ended early");
    return r.value;
  };
}

/**
 * The next message whose state is `state`. A waiting user also hears of
 * changes to the estimated wait (the measured rate moves between ticks), so
 * those messages are passed over; each must still be a waiting ticket.
 */
async function untilState(next: () => Promise<WatchPositionResponse>, state: TicketState): Promise<WatchPositionResponse> {
  for (;;) {
    const message = await next();
    if (message.ticket?.state === state) return message;
    expect(message.ticket?.state).toBe(TicketState.WAITING);
  }
}

it("admits the head of the line, streaming the pass to the watcher, and frees the slot on leave", async () => {
  const client = server.client(QueueService);
  const eventId = uniqueId();
  await client.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100, maxActive: 1 });
  for (const userId of ["first", "second"]) await client.join({ eventId, userId });
  const first = pull(client.watchPosition({ eventId, userId: "first" }));
  const second = pull(client.watchPosition({ eventId, userId: "second" }));
  expect((await first()).ticket?.position).toBe(1);
  expect((await second()).ticket?.position).toBe(2);

  await client.configureQueue({ eventId, state: QueueState.OPEN });
  const admitted = (await first()).ticket!;
  expect(admitted).toMatchObject({ state: TicketState.ADMITTED, position: 0 });
  const pass = admitted.pass!;
  expect(pass.expiresAt!.seconds - pass.issuedAt!.seconds).toBe(600n);
  const verdict = verifyPass(pass.token, server.app.config.passKeys, { eventId, userId: "first" });
  expect(verdict.kind).toBe("valid");
  // Any read of the ticket carries the same pass: it is derived from the stored admission.
  expect((await client.getPosition({ eventId, userId: "first" })).ticket?.pass?.token).toBe(pass.token);

  expect((await second()).ticket).toMatchObject({ state: TicketState.WAITING, position: 1 });
  const stats = (await client.getQueueStats({ eventId })).stats!;
  expect(stats).toMatchObject({ active: 1, admittedTotal: 1, waiting: 1 });

  // max_active = 1: the second user gets in only once the first session ends.
  await client.leave({ eventId, userId: "first" });
  expect((await untilState(second, TicketState.ADMITTED)).ticket).toMatchObject({ position: 0 });
  const err = await client.getPosition({ eventId, userId: "ghost" }).catch((e: unknown) => ConnectError.from(e));
  expect(err).toMatchObject({ code: Code.NotFound });
});

it("joins, is admitted with a pass, holds seats with it, confirms, and the freed slot admits the next user", async () => {
  const queue = server.client(QueueService);
  const seats = server.client(SeatService);
  const eventId = uniqueId();
  await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2", "A3"] }] }], requirePass: true });
  await queue.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100, maxActive: 1 });
  for (const userId of ["ann", "ben"]) await queue.join({ eventId, userId });
  const ann = pull(queue.watchPosition({ eventId, userId: "ann" }));
  const ben = pull(queue.watchPosition({ eventId, userId: "ben" }));
  await ann();
  await ben();
  await queue.configureQueue({ eventId, state: QueueState.OPEN });
  const pass = (await ann()).ticket!.pass!.token;
  expect((await ben()).ticket).toMatchObject({ state: TicketState.WAITING, position: 1 });

  const denied = async (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => ConnectError.from(e));
  const seatsOf = (userId: string, token: string) =>
    seats.holdSeats({ eventId, userId, pass: token, selection: { case: "seats", value: { seatIds: ["A1"] } } });
  // Forged, someone else's, for another event, expired, or none: all refused before any seat moves.
  const keys = server.app.config.passKeys;
  const forged = `${pass.slice(0, -2)}${pass.endsWith("AA") ? "AB" : "AA"}`;
  expect(reason(await denied(seatsOf("ann", forged)))).toBe("PASS_INVALID");
  expect(reason(await denied(seatsOf("ben", pass)))).toBe("PASS_INVALID");
  const now = Date.now();
  expect(reason(await denied(seatsOf("ann", keys.sign({ eventId: uniqueId(), userId: "ann", issuedAtMs: now, expiresAtMs: now + 60_000 }))))).toBe("PASS_WRONG_EVENT");
  expect(reason(await denied(seatsOf("ann", keys.sign({ eventId, userId: "ann", issuedAtMs: now - 120_000, expiresAtMs: now - 60_000 }))))).toBe("PASS_EXPIRED");
  expect(reason(await denied(seatsOf("ann", "")))).toBe("PASS_INVALID");
  expect((await seats.getAvailability({ eventId })).availability?.event?.held ?? 0).toBe(0);

  const hold = (await seatsOf("ann", pass)).hold!;
  await seats.confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "order-ann" });
  // The sale ended ann's session: her pass no longer holds, and ben takes the slot.
  expect(reason(await denied(seatsOf("ann", pass)))).toBe("SESSION_ENDED");
  const benTicket = (await untilState(ben, TicketState.ADMITTED)).ticket!;
  const second = await seats.holdSeats({ eventId, userId: "ben", pass: benTicket.pass!.token, selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 2 } } });
  expect(second.hold?.seatIds).toEqual(["A2", "A3"]);
});

function reason(err: ConnectError | undefined): string | undefined {
  expect(err?.code).toBe(Code.PermissionDenied);
  return err?.findDetails(ErrorInfoSchema)[0]?.reason;
}

it("keeps early joiners in the pre-queue until the sale opens, then streams each their place in a random order", async () => {
  const client = server.client(QueueService);
  const eventId = uniqueId();
  const opensAt = timestampFromMs(Date.now() + 3_600_000);
  await client.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100, opensAt });
  const users = Array.from({ length: 8 }, (_, i) => `early${i}`);
  for (const userId of users) {
    const { ticket } = await client.join({ eventId, userId });
    expect(ticket).toMatchObject({ state: TicketState.WAITING, position: 0, opensAt });
  }
  expect((await client.getQueueStats({ eventId })).stats).toMatchObject({ waiting: 8, preQueue: 8 });
  const watches = users.map((userId) => pull(client.watchPosition({ eventId, userId })));
  for (const next of watches) expect((await next()).ticket).toMatchObject({ position: 0, opensAt });

  // Opening now (still paused, so nobody is admitted yet): every watcher hears its new place.
  await client.configureQueue({ eventId, clearOpensAt: true });
  const places = await Promise.all(watches.map(async (next) => (await next()).ticket!));
  for (const ticket of places) {
    expect(ticket.state).toBe(TicketState.WAITING);
    expect(ticket.opensAt).toBeUndefined();
  }
  expect(places.map((t) => t.position).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect((await client.getQueueStats({ eventId })).stats).toMatchObject({ waiting: 8, preQueue: 0 });

  // Admission follows the new order: the user in place 1 is let in first.
  await client.configureQueue({ eventId, state: QueueState.OPEN, admitRatePerSec: 1, admitBurst: 1 });
  const head = places.findIndex((t) => t.position === 1);
  expect((await untilState(watches[head]!, TicketState.ADMITTED)).ticket?.pass?.token).toBeTruthy();
});
