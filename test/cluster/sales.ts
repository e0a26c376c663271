import type { Client } from "@connectrpc/connect";
import { expect } from "vitest";
import { HoldState, SeatService, SeatStatus } from "../../gen/boxoffice/v1/seats_pb.js";

/** One user's hold of one seat, as the failover tests confirm them. */
export interface SeatHold {
  readonly holdId: string;
  readonly userId: string;
  readonly seat: string;
}

/** Loads a one-row map of `count` seats (A1…) for `eventId` and has a user of its own hold each seat. */
export async function holdEverySeat(seats: Client<typeof SeatService>, eventId: string, count: number): Promise<SeatHold[]> {
  const seatIds = Array.from({ length: count }, (_, i) => `A${i + 1}`);
  await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds }] }] });
  return Promise.all(
    seatIds.map(async (seat, i) => {
      const userId = `u${i}`;
      const hold = (await seats.holdSeats({ eventId, userId, selection: { case: "seats", value: { seatIds: [seat] } } })).hold;
      return { holdId: hold?.holdId ?? "", userId, seat };
    }),
  );
}

/**
 * Every hold of every sale is CONFIRMED with its seat, and the seat
 * invariant holds: each event's seats all SOLD, counted once, none held.
 */
export async function expectEverySeatSold(
  seats: Client<typeof SeatService>,
  sales: ReadonlyArray<{ readonly eventId: string; readonly holds: readonly SeatHold[] }>,
): Promise<void> {
  for (const sale of sales) {
    for (const hold of sale.holds) {
      const got = (await seats.getHold({ eventId: sale.eventId, holdId: hold.holdId, userId: hold.userId })).hold;
      expect(got?.state, `${hold.holdId} of ${sale.eventId}`).toBe(HoldState.CONFIRMED);
      expect(got?.seatIds).toEqual([hold.seat]);
    }
    const count = sale.holds.length;
    const availability = (await seats.getAvailability({ eventId: sale.eventId, sectionId: "A" })).availability;
    expect(availability?.event).toMatchObject({ capacity: count, sold: count, held: 0, available: 0 });
    expect(availability?.seats.map((seat) => [seat.seatId, seat.status])).toEqual(sale.holds.map((h) => [h.seat, SeatStatus.SOLD]));
  }
}
