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

/** What `confirmThroughFailover` saw: the holds answered OK, and each failure as `describe` put it. */
export interface FailoverSales<F> {
  readonly confirmedOk: ReadonlySet<string>;
  readonly failures: ReadonlyMap<string, F>;
}

/**
 * Confirms every hold of `sales` (each hold's order id is `order-<holdId>`), the events' holds
 * taken in turns by seat, `workers` at a time; once `killAfter` calls have answered OK, starts
 * `failOver` (a primary killed and its replica promoted) while the workers go on. Resolves when
 * every hold was tried and the failover has completed.
 */
export async function confirmThroughFailover<F>(
  seats: Client<typeof SeatService>,
  sales: ReadonlyArray<{ readonly eventId: string; readonly holds: readonly SeatHold[] }>,
  options: { readonly workers: number; readonly killAfter: number; readonly failOver: () => Promise<void>; readonly describe: (err: unknown) => F },
): Promise<FailoverSales<F>> {
  const confirmedOk = new Set<string>();
  const failures = new Map<string, F>();
  let failover: Promise<void> | undefined;
  const work = sales.flatMap((sale) => sale.holds.map((hold) => ({ sale, hold })));
  work.sort((a, b) => a.hold.seat.localeCompare(b.hold.seat));
  let next = 0;
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (next < work.length) {
        const { sale, hold } = work[next++]!;
        try {
          await seats.confirmHold({ eventId: sale.eventId, holdId: hold.holdId, userId: hold.userId, orderId: `order-${hold.holdId}` });
          confirmedOk.add(hold.holdId);
          if (confirmedOk.size === options.killAfter) failover = options.failOver();
        } catch (err) {
          failures.set(hold.holdId, options.describe(err));
        }
      }
    }),
  );
  expect(failover, "the failover started").toBeDefined();
  await failover;
  return { confirmedOk, failures };
}
