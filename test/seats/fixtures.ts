import type { Redis } from "ioredis";
import pino from "pino";
import { onTestFinished } from "vitest";
import { EventSweeper } from "../../src/redis/event-sweeper.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import type { HoldResult, HoldView, SeatMap, SeatMapSection } from "../../src/seats/types.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/**
 * A store over the test Redis under a key prefix of its own (so a reaper pass
 * only walks this test's events) and with a clock the test moves by hand.
 */
export interface SeatFixture {
  readonly redis: Redis;
  readonly store: SeatStore;
  readonly eventId: string;
  /** The key prefix of this fixture's stores (for other stores over the same events). */
  readonly prefix: string;
  /** Another store on its own connection, same prefix and clock: for real concurrency. */
  connect(): SeatStore;
  /** A reaper over this fixture's events; tests call `sweepAll()` instead of waiting. */
  readonly reaper: EventSweeper;
  /** Moves the scripts' clock forward (added to Redis TIME). */
  advance(ms: number): void;
}

export function seatFixture(): SeatFixture {
  const redis = connectRedis();
  onTestFinished(async () => {
    await redis.quit();
  });
  let skew = 0;
  const options = { keyPrefix: `${uniqueId("p")}:`, clockSkewMs: () => skew };
  const store = new SeatStore(redis, options);
  return {
    redis,
    store,
    prefix: options.keyPrefix,
    eventId: uniqueId(),
    connect() {
      const other = connectRedis();
      onTestFinished(async () => {
        await other.quit();
      });
      return new SeatStore(other, options);
    },
    reaper: new EventSweeper(store, { intervalMs: 60_000, batch: 5, what: "seat holds", logger: pino({ level: "silent" }) }),
    advance(ms) {
      skew += ms;
    },
  };
}

/** A section of `rows` rows R1… of `seats` seats, ids `<section>-R<row>-<n>`. */
export function grid(sectionId: string, rows: number, seats: number): SeatMapSection {
  return {
    sectionId,
    rows: Array.from({ length: rows }, (_, r) => ({
      rowId: `R${r + 1}`,
      seatIds: Array.from({ length: seats }, (_, s) => `${sectionId}-R${r + 1}-${s + 1}`),
    })),
  };
}

/** Two sections and two tiers: small enough to reason about seat by seat. */
export function smallMap(overrides: Partial<SeatMap> = {}): SeatMap {
  return { sections: [grid("A", 3, 6), grid("B", 2, 4)], tiers: [{ tierId: "GA", capacity: 10 }, { tierId: "VIP", capacity: 2 }], ...overrides };
}

export function seatIdsOf(hold: HoldView): string[] {
  return hold.seats.map((s) => s.seatId);
}

/** The hold of a `held` result, or a failure naming what came back instead. */
export function held(result: HoldResult): HoldView {
  if (result.kind !== "held") throw new Error(`expected held, got ${JSON.stringify(result)}`);
  return result.hold;
}

/** The outbox entries of an event as `{ type, ...fields }` objects. */
export async function outbox(f: SeatFixture, eventId = f.eventId): Promise<Array<Record<string, string>>> {
  const entries = await f.redis.xrange(f.store.keys(eventId).log, "-", "+");
  return entries.map(([, fields]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
    return record;
  });
}
