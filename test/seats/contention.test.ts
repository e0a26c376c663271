import { expect, it } from "vitest";
import type { HoldResult, SeatSelection } from "../../src/seats/types.js";
import { mulberry32 } from "../support/prng.js";
import { grid, seatFixture } from "./fixtures.js";
import { expectConsistent, inventoryProblems } from "./invariant.js";

const USERS = 2_000;

it("gives 2,000 concurrent holds over 100 seats and 100 GA places exactly the capacity, never a seat twice", async () => {
  const f = seatFixture();
  const k = f.store.keys(f.eventId);
  await f.store.loadSeatMap(f.eventId, { sections: [grid("A", 10, 10)], tiers: [{ tierId: "GA", capacity: 100 }], maxSeatsPerUser: 4 });
  const stores = Array.from({ length: 8 }, () => f.connect());
  const random = mulberry32(7);

  // Pairs are aligned (seats 1-2, 3-4, …) so every hold is 2 seats and the 100 seats fill exactly.
  const requests = Array.from({ length: USERS }, (_, i): SeatSelection => {
    if (i % 3 === 0) {
      const row = 1 + Math.floor(random() * 10);
      const pair = Math.floor(random() * 5);
      return { kind: "seats", seatIds: [`A-R${row}-${2 * pair + 1}`, `A-R${row}-${2 * pair + 2}`] };
    }
    return i % 3 === 1 ? { kind: "best_available", section: "A", quantity: 2 } : { kind: "general_admission", tier: "GA", quantity: 2 };
  });

  // A reader checks the invariant over and over while the holds race.
  let racing = true;
  const seen: string[] = [];
  const reader = (async () => {
    let reads = 0;
    while (racing || reads === 0) {
      seen.push(...(await inventoryProblems(f.redis, k)));
      reads += 1;
    }
    return reads;
  })();
  const results: HoldResult[] = await Promise.all(
    requests.map((selection, i) => (stores[i % stores.length] as (typeof stores)[number]).hold(f.eventId, `user-${i}`, `hold-${i}`, selection)),
  );
  racing = false;
  expect(await reader).toBeGreaterThan(0);
  expect(seen).toEqual([]);

  const seats = new Set<string>();
  let seatedHeld = 0;
  let gaHeld = 0;
  results.forEach((result, i) => {
    const request = requests[i] as SeatSelection;
    if (result.kind === "held") {
      for (const seat of result.hold.seats) {
        expect(seats.has(seat.seatId), `${seat.seatId} held twice`).toBe(false);
        seats.add(seat.seatId);
      }
      if (request.kind === "general_admission") gaHeld += result.hold.quantity;
      else seatedHeld += result.hold.seats.length;
    } else if (request.kind === "seats") {
      expect(result.kind).toBe("seat_unavailable");
      if (result.kind === "seat_unavailable") {
        expect(result.seatIds.length).toBeGreaterThan(0);
        expect(request.seatIds).toEqual(expect.arrayContaining([...result.seatIds]));
      }
    } else {
      expect(result).toEqual({ kind: "sold_out", available: 0 });
    }
  });
  expect(seatedHeld).toBe(100);
  expect(gaHeld).toBe(100);
  expect(seats.size).toBe(100);
  expect(results.filter((r) => r.kind === "held")).toHaveLength(100);
  expect(await f.store.availability(f.eventId)).toMatchObject({
    availability: { event: { capacity: 200, available: 0, held: 200, sold: 0 } },
  });
  await expectConsistent(f.redis, k);

  // Second round: GA winners release or confirm while 500 newcomers race for what comes back.
  const gaWinners = results.flatMap((r, i) => (r.kind === "held" && requests[i]?.kind === "general_admission" ? [i] : []));
  const round = await Promise.all([
    ...gaWinners.map((i, n) =>
      n % 2 === 0 ? f.store.release(f.eventId, `hold-${i}`, `user-${i}`) : f.store.confirm(f.eventId, `hold-${i}`, `user-${i}`, `order-${i}`),
    ),
    ...Array.from({ length: 500 }, (_, n) =>
      (stores[n % stores.length] as (typeof stores)[number]).hold(f.eventId, `late-${n}`, `late-${n}`, { kind: "general_admission", tier: "GA", quantity: 2 }),
    ),
  ]);
  const lateHeld = round.slice(gaWinners.length).filter((r) => r.kind === "held").length;
  expect(lateHeld).toBe(Math.ceil(gaWinners.length / 2));
  expect(await f.store.availability(f.eventId)).toMatchObject({
    availability: { tiers: [{ tier: "GA", counts: { capacity: 100, available: 0, held: 50, sold: 50 } }] },
  });
  await expectConsistent(f.redis, k);
});
