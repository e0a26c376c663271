import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HoldState,
  SeatService,
  SeatStatus,
  type WatchAvailabilityResponse,
} from "../../gen/boxoffice/v1/seats_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { LoadSeatMapRequestSchema } from "../../gen/boxoffice/v1/seats_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

async function failure(promise: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; metadata: Record<string, string>; err: ConnectError }> {
  try {
    await promise;
  } catch (e) {
    const err = ConnectError.from(e);
    const info = err.findDetails(ErrorInfoSchema)[0];
    return { code: err.code, reason: info?.reason, metadata: info?.metadata ?? {}, err };
  }
  throw new Error("expected the call to fail");
}

/** Section A: rows 1-3 of seats A-<row>-1..4 (front to back); general admission "floor" with 5 places. */
function venue(
  eventId: string,
  extra: Pick<MessageInitShape<typeof LoadSeatMapRequestSchema>, "holdTtlSeconds" | "maxSeatsPerUser" | "requirePass"> = {},
): MessageInitShape<typeof LoadSeatMapRequestSchema> {
  return {
    eventId,
    sections: [{ sectionId: "A", rows: [1, 2, 3].map((r) => ({ rowId: String(r), seatIds: [1, 2, 3, 4].map((s) => `A-${r}-${s}`) })) }],
    tiers: [{ tierId: "floor", capacity: 5 }],
    ...extra,
  };
}

describe.each(["grpc-port/grpc", "connect-port/connect"] as const)("SeatService over %s", (name) => {
  const client = () => server.client(SeatService, server.transports[name]);

  it("loads a map, holds every kind of selection, confirms idempotently, and counts it all", async () => {
    const eventId = uniqueId();
    const loaded = await client().loadSeatMap(venue(eventId));
    expect(loaded.seatMap).toMatchObject({ eventId, sections: 1, seats: 12, tiers: 1, capacity: 17, holdTtlSeconds: 600 });

    const explicit = await client().holdSeats({ eventId, userId: "ann", selection: { case: "seats", value: { seatIds: ["A-1-2", "A-1-3"] } } });
    expect(explicit.hold).toMatchObject({ eventId, userId: "ann", seatIds: ["A-1-2", "A-1-3"], state: HoldState.HELD, quantity: 2 });
    expect(explicit.hold?.holdId).toMatch(/^h[A-Za-z0-9_-]{22}$/);
    const ttl = Number(explicit.hold!.expiresAt!.seconds - explicit.hold!.createdAt!.seconds);
    expect(ttl).toBe(600);

    // Row 1 keeps A-1-1 and A-1-4, not adjacent: the front-most adjacent pair is in row 2.
    const best = await client().holdSeats({ eventId, userId: "bob", selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 2 } } });
    expect(best.hold?.seatIds).toEqual(["A-2-1", "A-2-2"]);

    const ga = await client().holdSeats({ eventId, userId: "cid", selection: { case: "generalAdmission", value: { tierId: "floor", quantity: 3 } } });
    expect(ga.hold).toMatchObject({ tierId: "floor", quantity: 3, seatIds: [] });

    const holdId = explicit.hold!.holdId;
    const sold = await client().confirmHold({ eventId, holdId, userId: "ann", orderId: "order-1" });
    expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "order-1" });
    const again = await client().confirmHold({ eventId, holdId, userId: "ann", orderId: "order-1" });
    expect(again.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "order-1" });
    expect(await failure(client().confirmHold({ eventId, holdId, userId: "ann", orderId: "order-2" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HOLD_CONFIRMED",
    });

    const availability = (await client().getAvailability({ eventId, sectionId: "A" })).availability;
    expect(availability?.event).toMatchObject({ capacity: 17, held: 5, sold: 2, available: 10 });
    expect(availability?.sections[0]).toMatchObject({ sectionId: "A", counts: { capacity: 12, held: 2, sold: 2, available: 8 } });
    expect(availability?.tiers[0]).toMatchObject({ tierId: "floor", counts: { capacity: 5, held: 3, sold: 0, available: 2 } });
    const status = Object.fromEntries(availability!.seats.map((s) => [s.seatId, s.status]));
    expect(status).toMatchObject({ "A-1-1": SeatStatus.AVAILABLE, "A-1-2": SeatStatus.SOLD, "A-2-1": SeatStatus.HELD });
    expect(availability?.seats).toHaveLength(12);
  });

  it("maps every refusal to its code and reason", async () => {
    const eventId = uniqueId();
    expect(await failure(client().holdSeats({ eventId, userId: "u", selection: { case: "seats", value: { seatIds: ["x"] } } }))).toMatchObject({
      code: Code.NotFound,
      reason: "SEAT_MAP_NOT_FOUND",
    });
    await client().loadSeatMap(venue(eventId, { maxSeatsPerUser: 6 }));
    const first = await client().holdSeats({ eventId, userId: "ann", selection: { case: "seats", value: { seatIds: ["A-1-1"] } } });
    const holdId = first.hold!.holdId;

    expect(await failure(client().holdSeats({ eventId, userId: "bob", selection: { case: "seats", value: { seatIds: ["A-1-1", "A-1-2"] } } }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "SEAT_UNAVAILABLE",
      metadata: { seat_ids: "A-1-1" },
    });
    expect(await failure(client().holdSeats({ eventId, userId: "bob", selection: { case: "seats", value: { seatIds: ["Z-9"] } } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNKNOWN_SEAT",
      metadata: { seat_ids: "Z-9" },
    });
    expect(await failure(client().holdSeats({ eventId, userId: "bob", selection: { case: "bestAvailable", value: { sectionId: "Q", quantity: 1 } } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNKNOWN_SECTION",
    });
    expect(await failure(client().holdSeats({ eventId, userId: "bob", selection: { case: "generalAdmission", value: { tierId: "vip", quantity: 1 } } }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNKNOWN_TIER",
    });
    expect(await failure(client().holdSeats({ eventId, userId: "bob", selection: { case: "generalAdmission", value: { tierId: "floor", quantity: 6 } } }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "SOLD_OUT",
    });
    expect(await failure(client().holdSeats({ eventId, userId: "ann", selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 6 } } }))).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "SEAT_LIMIT_REACHED",
      metadata: { remaining: "5" },
    });
    expect(await failure(client().releaseHold({ eventId, holdId, userId: "bob" }))).toMatchObject({ code: Code.PermissionDenied, reason: "NOT_HOLD_OWNER" });
    expect(await failure(client().getHold({ eventId, holdId, userId: "bob" }))).toMatchObject({ code: Code.PermissionDenied, reason: "NOT_HOLD_OWNER" });
    expect(await failure(client().getHold({ eventId, holdId: "nope", userId: "ann" }))).toMatchObject({ code: Code.NotFound, reason: "HOLD_NOT_FOUND" });
    expect(await failure(client().loadSeatMap(venue(eventId)))).toMatchObject({ code: Code.FailedPrecondition, reason: "SEAT_MAP_IN_USE" });

    const released = await client().releaseHold({ eventId, holdId, userId: "ann" });
    expect(released.hold?.state).toBe(HoldState.RELEASED);
    expect((await client().releaseHold({ eventId, holdId, userId: "ann" })).hold?.state).toBe(HoldState.RELEASED);
    expect(await failure(client().confirmHold({ eventId, holdId, userId: "ann", orderId: "o" }))).toMatchObject({ reason: "HOLD_RELEASED" });
    const reloaded = await client().loadSeatMap(venue(eventId));
    expect(reloaded.replaced).toBe(true);
  });

  it("rejects malformed maps and selections before Redis, naming the fields", async () => {
    const eventId = uniqueId();
    const duplicate = await failure(
      client().loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["s1", "s1"] }] }] }),
    );
    expect(duplicate).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_REQUEST" });
    expect(duplicate.err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toContain("seat_ids");
    const noSelection = await failure(client().holdSeats({ eventId, userId: "u" }));
    expect(noSelection.err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toContain("selection");
    expect(await server.redis.exists(server.app.seats.keys(eventId).config)).toBe(0);
  });

  it("returns the first hold to a retry with the same request id, and refuses the id for another selection", async () => {
    const eventId = uniqueId();
    await client().loadSeatMap(venue(eventId, { maxSeatsPerUser: 2 }));
    const request = { eventId, userId: "ann", requestId: "0b6f3c1e-5d2a-4f7e-9a41-2c8d7e6f5a10", selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 2 } } } as const;
    const first = await client().holdSeats(request);
    const retried = await client().holdSeats(request);
    expect(retried.hold).toEqual(first.hold);
    expect((await client().getAvailability({ eventId })).availability?.event).toMatchObject({ held: 2 });

    const reused = await failure(client().holdSeats({ ...request, selection: { case: "seats", value: { seatIds: ["A-3-1"] } } }));
    expect(reused).toMatchObject({ code: Code.FailedPrecondition, reason: "IDEMPOTENCY_KEY_REUSED", metadata: { request_id: request.requestId } });

    await client().releaseHold({ eventId, userId: "ann", holdId: first.hold!.holdId });
    expect((await client().holdSeats(request)).hold).toMatchObject({ holdId: first.hold!.holdId, state: HoldState.RELEASED });
  });

  it.each(["has space", "{tag}", "-leading-dash", "x".repeat(129)])("rejects the request id %j before Redis, naming the field", async (requestId) => {
    const eventId = uniqueId();
    const bad = await failure(client().holdSeats({ eventId, userId: "u", requestId, selection: { case: "seats", value: { seatIds: ["A-1-1"] } } }));
    expect(bad).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_REQUEST" });
    expect(bad.err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["request_id"]);
    expect(await server.redis.exists(server.app.seats.keys(eventId).config)).toBe(0);
  });

  it("refuses holds on a map that requires an admission pass", async () => {
    const eventId = uniqueId();
    await client().loadSeatMap(venue(eventId, { requirePass: true }));
    expect(await failure(client().holdSeats({ eventId, userId: "u", pass: "anything", selection: { case: "seats", value: { seatIds: ["A-1-1"] } } }))).toMatchObject({
      code: Code.PermissionDenied,
      reason: "PASS_INVALID",
    });
  });
});

describe("hold expiry end to end", () => {
  it("returns expired seats with nobody calling, refuses the late confirm, and lets someone else win them", async () => {
    const client = server.client(SeatService);
    const eventId = uniqueId();
    await client.loadSeatMap(venue(eventId, { holdTtlSeconds: 60 }));
    const hold = (await client.holdSeats({ eventId, userId: "slow", selection: { case: "seats", value: { seatIds: ["A-3-4"] } } })).hold!;
    const extended = (await client.extendHold({ eventId, holdId: hold.holdId, userId: "slow", ttlSeconds: 120 })).hold!;
    expect(extended.expiresAt!.seconds).toBeGreaterThan(hold.expiresAt!.seconds);

    server.advance(121_000);
    expect(await server.app.reaper.sweepAll()).toBeGreaterThanOrEqual(1);
    const counts = server.app.seats.keys(eventId).counts;
    expect(await server.redis.hget(counts, "e:held")).toBe("0");

    const late = await failure(client.confirmHold({ eventId, holdId: hold.holdId, userId: "slow", orderId: "o-1" }));
    expect(late).toMatchObject({ code: Code.FailedPrecondition, reason: "HOLD_EXPIRED" });
    const winner = await client.holdSeats({ eventId, userId: "fast", selection: { case: "seats", value: { seatIds: ["A-3-4"] } } });
    expect(winner.hold?.seatIds).toEqual(["A-3-4"]);
    expect((await client.getHold({ eventId, holdId: hold.holdId, userId: "slow" })).hold?.state).toBe(HoldState.EXPIRED);
  });
});

describe("WatchAvailability", () => {
  function pull(stream: AsyncIterable<WatchAvailabilityResponse>) {
    const it = stream[Symbol.asyncIterator]();
    return async (): Promise<WatchAvailabilityResponse> => {
      const r = await it.next();
      if (r.done) throw new Error("stream ended early");
      return r.value;
    };
  }

  it.each(["grpc-port/grpc", "connect-port/grpc", "connect-port/connect"] as const)(
    "streams the section's seats, then other clients' holds and expiries (%s)",
    async (name) => {
      const client = server.client(SeatService, server.transports[name]);
      const eventId = uniqueId();
      await client.loadSeatMap(venue(eventId, { holdTtlSeconds: 60 }));
      const next = pull(client.watchAvailability({ eventId, sectionId: "A" }));
      const first = await next();
      expect(first.availability?.seats).toHaveLength(12);
      expect(first.availability?.event).toMatchObject({ capacity: 17, available: 17 });

      const other = server.client(SeatService);
      const hold = (await other.holdSeats({ eventId, userId: "o", selection: { case: "seats", value: { seatIds: ["A-2-2"] } } })).hold!;
      const held = await next();
      expect(held.changes).toEqual([expect.objectContaining({ seatId: "A-2-2", sectionId: "A", rowId: "2", status: SeatStatus.HELD })]);
      expect(held.availability?.event).toMatchObject({ held: 1, available: 16 });
      expect(held.availability?.seats).toEqual([]);

      server.advance(61_000);
      await server.app.reaper.sweepAll();
      const expired = await next();
      expect(expired.changes).toEqual([expect.objectContaining({ seatId: "A-2-2", status: SeatStatus.AVAILABLE })]);
      expect(expired.availability?.event).toMatchObject({ held: 0, available: 17 });
      expect((await other.getHold({ eventId, holdId: hold.holdId, userId: "o" })).hold?.state).toBe(HoldState.EXPIRED);
    },
  );

  it("fails with NOT_FOUND for an event without a seat map and INVALID_ARGUMENT for an unknown section", async () => {
    const client = server.client(SeatService);
    const missing = await failure(pull(client.watchAvailability({ eventId: uniqueId() }))());
    expect(missing).toMatchObject({ code: Code.NotFound, reason: "SEAT_MAP_NOT_FOUND" });
    const eventId = uniqueId();
    await client.loadSeatMap(venue(eventId));
    const section = await failure(pull(client.watchAvailability({ eventId, sectionId: "nope" }))());
    expect(section).toMatchObject({ code: Code.InvalidArgument, reason: "UNKNOWN_SECTION" });
  });
});
