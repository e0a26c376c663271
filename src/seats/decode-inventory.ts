import { Outcome, StoredSeatStatus } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import type { AvailabilityResult, LoadResult, SeatCounts, SeatMapSettings, SeatStatusCode, SeatStatusView } from "./types.js";

/** Decoders of the inventory-wide scripts: loadSeatMap and getAvailability. */

export function decodeLoad(raw: unknown, eventId: string, settings: SeatMapSettings): LoadResult {
  const reply = new Reply("loadSeatMap", raw, 6);
  const code = reply.int(0);
  switch (code) {
    case Outcome.CREATED:
    case Outcome.UPDATED:
      return {
        kind: "loaded",
        replaced: code === Outcome.UPDATED,
        seatMap: {
          eventId,
          sections: reply.int(1),
          seats: reply.int(2),
          tiers: reply.int(3),
          capacity: reply.int(4),
          ...settings,
        },
      };
    case Outcome.SEAT_MAP_IN_USE:
      return { kind: "seat_map_in_use" };
    case Outcome.SEAT_MAP_INVALID:
      return { kind: "duplicate_id", id: reply.str(5) };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

const SEAT_STATUSES = new Map<string, SeatStatusCode>(
  Object.values(StoredSeatStatus).map((status) => [String(status), status]),
);

function counts(reply: Reply, flat: readonly unknown[], at: number): SeatCounts {
  const [capacity, held, sold] = flat.slice(at, at + 3);
  if (typeof capacity !== "number" || typeof held !== "number" || typeof sold !== "number") {
    return reply.fail(`bad counts at ${at}`);
  }
  return { capacity, available: capacity - held - sold, held, sold };
}

/** `{ id, capacity, held, sold, … }` into named counts. */
function scoped(reply: Reply, index: number): Array<{ id: string; counts: SeatCounts }> {
  const flat = reply.array(index);
  if (flat.length % 4 !== 0) {
    return reply.fail(`ragged counts at item ${index}`);
  }
  const out: Array<{ id: string; counts: SeatCounts }> = [];
  for (let i = 0; i < flat.length; i += 4) {
    const id = flat[i];
    if (typeof id !== "string") {
      return reply.fail(`bad id at item ${index}.${i}`);
    }
    out.push({ id, counts: counts(reply, flat, i + 1) });
  }
  return out;
}

/** `{ row, "seat,seat", "1213", … }` into seat statuses in layout order. */
function seatStatuses(reply: Reply, section: string): SeatStatusView[] {
  const flat = reply.array(5);
  const seats: SeatStatusView[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const [row, list, statuses] = flat.slice(i, i + 3);
    if (typeof row !== "string" || typeof list !== "string" || typeof statuses !== "string") {
      return reply.fail(`bad row at ${i}`);
    }
    const seatIds = list.split(",");
    if (seatIds.length !== statuses.length) {
      return reply.fail(`row ${row}: ${seatIds.length} seats, ${statuses.length} statuses`);
    }
    seatIds.forEach((seatId, s) => {
      const status = SEAT_STATUSES.get(statuses[s] as string) ?? reply.fail(`bad seat status in row ${row}`);
      seats.push({ seatId, section, row, status });
    });
  }
  return flat.length % 3 === 0 ? seats : reply.fail("ragged seat rows");
}

export function decodeAvailability(raw: unknown, eventId: string, section: string | undefined): AvailabilityResult {
  const reply = new Reply("getAvailability", raw, 7);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK: {
      const settings = new Reply("getAvailability", reply.array(1), 4);
      return {
        kind: "availability",
        availability: {
          eventId,
          settings: {
            holdTtlSeconds: settings.int(0),
            maxHoldTtlSeconds: settings.int(1),
            maxSeatsPerUser: settings.int(2),
            requirePass: settings.int(3) === 1,
          },
          event: counts(reply, reply.array(2), 0),
          sections: scoped(reply, 3).map(({ id, counts }) => ({ section: id, counts })),
          tiers: scoped(reply, 4).map(({ id, counts }) => ({ tier: id, counts })),
          seats: section === undefined ? [] : seatStatuses(reply, section),
          cursor: reply.str(6),
        },
      };
    }
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.UNKNOWN_SECTION:
      return { kind: "unknown_section" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}
