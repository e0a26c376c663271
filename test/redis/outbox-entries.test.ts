import { describe, expect, it } from "vitest";
import { ChangeType, type ChangeTypeName } from "../../src/redis/change-types.js";
import { StoredQueueState as Q } from "../../src/redis/outcomes.js";
import type { SeatMap } from "../../src/seats/types.js";
import { redisNowMs } from "../queue/fixtures.js";
import { grid } from "../seats/fixtures.js";
import { entriesAfter, newestId, outboxFixture, type OutboxFixture } from "./outbox-fixture.js";

/**
 * The fields of each entry type after `type`, as src/redis/change-types.ts
 * documents them (written out here again, so a script that drifts from the
 * contract fails). `pre` is the one optional field.
 */
const CONTRACT: Readonly<Record<ChangeTypeName, readonly string[]>> = {
  "queue.joined": ["user", "seq"],
  "queue.left": ["user", "seq"],
  "queue.expired": ["user", "seq"],
  "queue.admitted": ["user", "seq", "issued", "expires"],
  "queue.session_ended": ["user", "seq", "reason", "issued", "expires"],
  "queue.shuffled": ["user", "seq", "first"],
  "queue.configured": ["user", "seq", "created", "rate", "burst", "max_active", "session_ttl", "idle_timeout", "opens_at", "state"],
  "seat.map_loaded": ["sections", "seats", "tiers", "capacity", "replaced"],
  "seat.held": ["hold", "user", "seats", "tier", "quantity", "expires"],
  "seat.extended": ["hold", "user", "seats", "tier", "quantity", "expires"],
  "seat.released": ["hold", "user", "seats", "tier", "quantity"],
  "seat.confirmed": ["hold", "user", "seats", "tier", "quantity", "order"],
  "seat.expired": ["hold", "user", "seats", "tier", "quantity"],
};
const OPTIONAL: Readonly<Partial<Record<ChangeTypeName, readonly string[]>>> = { "queue.joined": ["pre"] };

const MS = expect.stringMatching(/^\d{13}$/);
const MAP: SeatMap = { sections: [grid("A", 1, 4)], tiers: [{ tierId: "GA", capacity: 5 }], holdTtlSeconds: 60, maxHoldTtlSeconds: 300 };
const OPEN = String(Q.OPEN);

const configured = (created: "1" | "0", overrides: Record<string, string> = {}) => ({
  type: "queue.configured",
  user: "",
  seq: "0",
  created,
  rate: "10",
  burst: "10",
  max_active: "0",
  session_ttl: "600",
  idle_timeout: "300",
  opens_at: "",
  state: OPEN,
  ...overrides,
});
const seatA1 = { hold: "h1", user: "u1", seats: "A|R1|A-R1-1", tier: "", quantity: "1" };
const gaHold = { hold: "h2", user: "u2", seats: "", tier: "GA", quantity: "2" };

interface Case {
  readonly name: string;
  /** Brings the event to where the call starts; what it appends is not the case's. */
  readonly given?: (f: OutboxFixture) => Promise<unknown>;
  readonly when: (f: OutboxFixture) => Promise<{ readonly kind: string }>;
  /** The outcome: the change (or refusal) the call reports. */
  readonly kind: string;
  /** Exactly what the call appends, in order; [] = nothing. */
  readonly entries: ReadonlyArray<Record<string, unknown>>;
}

async function queued(f: OutboxFixture, users: readonly string[] = [], config: Parameters<OutboxFixture["queue"]["configure"]>[1] = {}) {
  await f.queue.configure(f.eventId, config);
  for (const u of users) await f.queue.join(f.eventId, u);
}

async function admitted(f: OutboxFixture, config: Parameters<OutboxFixture["queue"]["configure"]>[1] = {}) {
  await queued(f, ["u1"], config);
  expect(await f.queue.admit(f.eventId)).toMatchObject({ admitted: 1 });
}

async function loaded(f: OutboxFixture, map: SeatMap = MAP) {
  expect(await f.seats.loadSeatMap(f.eventId, map)).toMatchObject({ kind: "loaded" });
}

async function holding(f: OutboxFixture, map: SeatMap = MAP) {
  await loaded(f, map);
  expect(await f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] })).toMatchObject({ kind: "held" });
}

const QUEUE_CASES: Case[] = [
  { name: "configure creates", when: (f) => f.queue.configure(f.eventId, {}), kind: "created", entries: [configured("1")] },
  {
    name: "configure changes a setting",
    given: (f) => queued(f),
    when: (f) => f.queue.configure(f.eventId, { admitRatePerSec: 2.5, maxActive: 7 }),
    kind: "updated",
    entries: [configured("0", { rate: "2.5", max_active: "7" })],
  },
  {
    name: "configure sets what is already set",
    given: (f) => queued(f),
    when: (f) => f.queue.configure(f.eventId, { admitRatePerSec: 10, state: Q.OPEN, opensAtMs: null }),
    kind: "updated",
    entries: [],
  },
  {
    name: "join",
    given: (f) => queued(f, ["u0"]),
    when: (f) => f.queue.join(f.eventId, "u1"),
    kind: "joined",
    entries: [{ type: "queue.joined", user: "u1", seq: "2" }],
  },
  {
    name: "join before the sale opens",
    given: async (f) => queued(f, [], { opensAtMs: (await redisNowMs(f.redis)) + 60_000 }),
    when: (f) => f.queue.join(f.eventId, "u1"),
    kind: "joined",
    entries: [{ type: "queue.joined", user: "u1", seq: "1", pre: "1" }],
  },
  { name: "join again", given: (f) => queued(f, ["u1"]), when: (f) => f.queue.join(f.eventId, "u1"), kind: "already_joined", entries: [] },
  {
    name: "join a closed queue",
    given: (f) => queued(f, [], { state: Q.CLOSED }),
    when: (f) => f.queue.join(f.eventId, "u1"),
    kind: "queue_closed",
    entries: [],
  },
  { name: "join an unknown event", when: (f) => f.queue.join(f.eventId, "u1"), kind: "event_not_found", entries: [] },
  {
    name: "join after a lapsed session",
    given: async (f) => {
      await admitted(f, { sessionTtlSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.join(f.eventId, "u1"),
    kind: "joined",
    entries: [
      { type: "queue.session_ended", user: "u1", seq: "1", reason: "expired", issued: MS, expires: MS },
      { type: "queue.joined", user: "u1", seq: "2" },
    ],
  },
  {
    name: "leave while waiting",
    given: (f) => queued(f, ["u1"]),
    when: (f) => f.queue.leave(f.eventId, "u1"),
    kind: "left",
    entries: [{ type: "queue.left", user: "u1", seq: "1" }],
  },
  {
    name: "leave again",
    given: async (f) => {
      await queued(f, ["u1"]);
      await f.queue.leave(f.eventId, "u1");
    },
    when: (f) => f.queue.leave(f.eventId, "u1"),
    kind: "already_ended",
    entries: [],
  },
  {
    name: "leave without a ticket",
    given: (f) => queued(f),
    when: (f) => f.queue.leave(f.eventId, "u1"),
    kind: "not_in_queue",
    entries: [],
  },
  {
    name: "leave with a live session",
    given: (f) => admitted(f),
    when: (f) => f.queue.leave(f.eventId, "u1"),
    kind: "left",
    entries: [{ type: "queue.session_ended", user: "u1", seq: "1", reason: "left", issued: MS, expires: MS }],
  },
  {
    name: "leave after the session lapsed (ends it as expired)",
    given: async (f) => {
      await admitted(f, { sessionTtlSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.leave(f.eventId, "u1"),
    kind: "already_ended",
    entries: [{ type: "queue.session_ended", user: "u1", seq: "1", reason: "expired", issued: MS, expires: MS }],
  },
  {
    name: "position of a present waiter",
    given: (f) => queued(f, ["u1"]),
    when: (f) => f.queue.position(f.eventId, "u1"),
    kind: "ticket",
    entries: [],
  },
  {
    name: "position of an idle waiter",
    given: async (f) => {
      await queued(f, ["u1"], { idleTimeoutSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.position(f.eventId, "u1"),
    kind: "ticket",
    entries: [{ type: "queue.expired", user: "u1", seq: "1" }],
  },
  {
    name: "sweep of idle waiters",
    given: async (f) => {
      await queued(f, ["u1", "u2"], { idleTimeoutSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.sweep(f.eventId, 10),
    kind: "swept",
    entries: [
      { type: "queue.expired", user: "u1", seq: "1" },
      { type: "queue.expired", user: "u2", seq: "2" },
    ],
  },
  {
    name: "sweep with nothing due",
    given: (f) => queued(f, ["u1"]),
    when: (f) => f.queue.sweep(f.eventId, 10),
    kind: "swept",
    entries: [],
  },
  {
    name: "admission",
    given: (f) => queued(f, ["u1", "u2"]),
    when: (f) => f.queue.admit(f.eventId, { maxAdmissions: 1 }),
    kind: "admission",
    entries: [{ type: "queue.admitted", user: "u1", seq: "1", issued: MS, expires: MS }],
  },
  { name: "admission with nobody waiting", given: (f) => queued(f), when: (f) => f.queue.admit(f.eventId), kind: "admission", entries: [] },
  {
    name: "admission ends a lapsed session",
    given: async (f) => {
      await admitted(f, { sessionTtlSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.admit(f.eventId),
    kind: "admission",
    entries: [{ type: "queue.session_ended", user: "u1", seq: "1", reason: "expired", issued: MS, expires: MS }],
  },
  {
    name: "admission meets an idle head of the line",
    given: async (f) => {
      await queued(f, ["u1"], { idleTimeoutSeconds: 60 });
      f.advance(61_000);
    },
    when: (f) => f.queue.admit(f.eventId),
    kind: "admission",
    entries: [{ type: "queue.expired", user: "u1", seq: "1" }],
  },
  {
    name: "admission finishes the opening shuffle",
    given: async (f) => {
      await queued(f, [], { opensAtMs: (await redisNowMs(f.redis)) + 60_000 });
      for (const u of ["u1", "u2", "u3"]) await f.queue.join(f.eventId, u);
      f.advance(61_000);
    },
    when: (f) => f.queue.admit(f.eventId),
    kind: "admission",
    entries: [{ type: "queue.shuffled", user: "", seq: "3", first: "1" }],
  },
];

const SEAT_CASES: Case[] = [
  {
    name: "load a seat map",
    when: (f) => f.seats.loadSeatMap(f.eventId, MAP),
    kind: "loaded",
    entries: [{ type: "seat.map_loaded", sections: "1", seats: "4", tiers: "1", capacity: "9", replaced: "0" }],
  },
  {
    name: "replace a seat map",
    given: (f) => loaded(f),
    when: (f) => f.seats.loadSeatMap(f.eventId, { sections: [grid("B", 2, 3)], tiers: [] }),
    kind: "loaded",
    entries: [{ type: "seat.map_loaded", sections: "1", seats: "6", tiers: "0", capacity: "6", replaced: "1" }],
  },
  {
    name: "replace a seat map in use",
    given: (f) => holding(f),
    when: (f) => f.seats.loadSeatMap(f.eventId, MAP),
    kind: "seat_map_in_use",
    entries: [],
  },
  {
    name: "load a seat map with a duplicate seat",
    when: (f) => f.seats.loadSeatMap(f.eventId, { sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["x", "x"] }] }], tiers: [] }),
    kind: "duplicate_id",
    entries: [],
  },
  {
    name: "hold seats",
    given: (f) => loaded(f),
    when: (f) => f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }),
    kind: "held",
    entries: [{ type: "seat.held", ...seatA1, expires: MS }],
  },
  {
    name: "hold general admission",
    given: (f) => loaded(f),
    when: (f) => f.seats.hold(f.eventId, "u2", "h2", { kind: "general_admission", tier: "GA", quantity: 2 }),
    kind: "held",
    entries: [{ type: "seat.held", ...gaHold, expires: MS }],
  },
  {
    name: "hold again under the same id",
    given: (f) => holding(f),
    when: (f) => f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }),
    kind: "already_held",
    entries: [],
  },
  {
    name: "hold again under the same request id",
    given: async (f) => {
      await loaded(f);
      await f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }, { requestId: "r1" });
    },
    when: (f) => f.seats.hold(f.eventId, "u1", "h2", { kind: "seats", seatIds: ["A-R1-1"] }, { requestId: "r1" }),
    kind: "already_held",
    entries: [],
  },
  {
    name: "hold again under the same request id after the hold expired unswept (expires it)",
    given: async (f) => {
      await loaded(f);
      await f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }, { requestId: "r1" });
      f.advance(61_000);
    },
    when: (f) => f.seats.hold(f.eventId, "u1", "h2", { kind: "seats", seatIds: ["A-R1-1"] }, { requestId: "r1" }),
    kind: "already_held",
    entries: [{ type: "seat.expired", ...seatA1 }],
  },
  {
    name: "hold other seats under a used request id",
    given: async (f) => {
      await loaded(f);
      await f.seats.hold(f.eventId, "u1", "h1", { kind: "seats", seatIds: ["A-R1-1"] }, { requestId: "r1" });
    },
    when: (f) => f.seats.hold(f.eventId, "u1", "h2", { kind: "seats", seatIds: ["A-R1-2"] }, { requestId: "r1" }),
    kind: "request_id_reused",
    entries: [],
  },
  {
    name: "hold a taken seat",
    given: (f) => holding(f),
    when: (f) => f.seats.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-1"] }),
    kind: "seat_unavailable",
    entries: [],
  },
  {
    name: "hold more than a tier has",
    given: (f) => loaded(f),
    when: (f) => f.seats.hold(f.eventId, "u2", "h2", { kind: "general_admission", tier: "GA", quantity: 6 }),
    kind: "sold_out",
    entries: [],
  },
  {
    name: "hold a seat whose hold expired unswept",
    given: async (f) => {
      await holding(f);
      f.advance(61_000);
    },
    when: (f) => f.seats.hold(f.eventId, "u2", "h2", { kind: "seats", seatIds: ["A-R1-1"] }),
    kind: "held",
    entries: [
      { type: "seat.expired", ...seatA1 },
      { type: "seat.held", ...seatA1, hold: "h2", user: "u2", expires: MS },
    ],
  },
  {
    name: "extend",
    given: async (f) => {
      await holding(f);
      f.advance(10_000);
    },
    when: (f) => f.seats.extend(f.eventId, "h1", "u1"),
    kind: "extended",
    entries: [{ type: "seat.extended", ...seatA1, expires: MS }],
  },
  {
    name: "extend a hold already at its latest",
    given: (f) => holding(f, { ...MAP, maxHoldTtlSeconds: 60 }),
    when: (f) => f.seats.extend(f.eventId, "h1", "u1"),
    kind: "extended",
    entries: [],
  },
  {
    name: "extend a released hold",
    given: async (f) => {
      await holding(f);
      await f.seats.release(f.eventId, "h1", "u1");
    },
    when: (f) => f.seats.extend(f.eventId, "h1", "u1"),
    kind: "hold_released",
    entries: [],
  },
  {
    name: "release",
    given: (f) => holding(f),
    when: (f) => f.seats.release(f.eventId, "h1", "u1"),
    kind: "released",
    entries: [{ type: "seat.released", ...seatA1 }],
  },
  {
    name: "release again",
    given: async (f) => {
      await holding(f);
      await f.seats.release(f.eventId, "h1", "u1");
    },
    when: (f) => f.seats.release(f.eventId, "h1", "u1"),
    kind: "already_released",
    entries: [],
  },
  {
    name: "release someone else's hold",
    given: (f) => holding(f),
    when: (f) => f.seats.release(f.eventId, "h1", "u2"),
    kind: "not_hold_owner",
    entries: [],
  },
  {
    name: "confirm",
    given: (f) => holding(f),
    when: (f) => f.seats.confirm(f.eventId, "h1", "u1", "order-1"),
    kind: "confirmed",
    entries: [{ type: "seat.confirmed", ...seatA1, order: "order-1" }],
  },
  {
    name: "confirm ends the admission session",
    given: async (f) => {
      await admitted(f);
      await holding(f);
    },
    when: (f) => f.seats.confirm(f.eventId, "h1", "u1", "order-1"),
    kind: "confirmed",
    entries: [
      { type: "seat.confirmed", ...seatA1, order: "order-1" },
      { type: "queue.session_ended", user: "u1", seq: "1", reason: "confirmed", issued: MS, expires: MS },
    ],
  },
  {
    name: "confirm again under the same order",
    given: async (f) => {
      await holding(f);
      await f.seats.confirm(f.eventId, "h1", "u1", "order-1");
    },
    when: (f) => f.seats.confirm(f.eventId, "h1", "u1", "order-1"),
    kind: "already_confirmed",
    entries: [],
  },
  {
    name: "confirm an expired hold (expires it)",
    given: async (f) => {
      await holding(f);
      f.advance(61_000);
    },
    when: (f) => f.seats.confirm(f.eventId, "h1", "u1", "order-1"),
    kind: "hold_expired",
    entries: [{ type: "seat.expired", ...seatA1 }],
  },
  { name: "read a live hold", given: (f) => holding(f), when: (f) => f.seats.getHold(f.eventId, "h1"), kind: "hold", entries: [] },
  {
    name: "read an expired hold",
    given: async (f) => {
      await holding(f);
      f.advance(61_000);
    },
    when: (f) => f.seats.getHold(f.eventId, "h1"),
    kind: "hold",
    entries: [{ type: "seat.expired", ...seatA1 }],
  },
  { name: "availability", given: (f) => holding(f), when: (f) => f.seats.availability(f.eventId, "A"), kind: "availability", entries: [] },
  {
    name: "availability with a due hold",
    given: async (f) => {
      await holding(f);
      f.advance(61_000);
    },
    when: (f) => f.seats.availability(f.eventId),
    kind: "availability",
    entries: [{ type: "seat.expired", ...seatA1 }],
  },
  {
    name: "reaper",
    given: async (f) => {
      await holding(f);
      f.advance(61_000);
    },
    when: (f) => f.seats.sweep(f.eventId, 10),
    kind: "swept",
    entries: [{ type: "seat.expired", ...seatA1 }],
  },
  { name: "reaper with nothing due", given: (f) => holding(f), when: (f) => f.seats.sweep(f.eventId, 10), kind: "swept", entries: [] },
];

describe("outbox entries", () => {
  it.each([...QUEUE_CASES, ...SEAT_CASES])("$name: outcome $kind appends exactly its entries", async (c) => {
    const f = outboxFixture();
    await c.given?.(f);
    const before = await newestId(f);
    const result = await c.when(f);
    expect(result.kind).toBe(c.kind);
    const appended = await entriesAfter(f, before);
    expect(appended.map((e) => e.fields)).toEqual(c.entries);
    for (const { fields } of appended) {
      const { type, ...rest } = fields;
      const contract = CONTRACT[type as ChangeTypeName];
      expect(contract, `known type ${type}`).toBeDefined();
      const optional = OPTIONAL[type as ChangeTypeName] ?? [];
      expect(Object.keys(rest).filter((name) => !optional.includes(name))).toEqual(contract);
    }
  });

  it("covers every change type of the contract", () => {
    const covered = new Set([...QUEUE_CASES, ...SEAT_CASES].flatMap((c) => c.entries.map((e) => e["type"])));
    expect([...covered].sort()).toEqual(Object.values(ChangeType).sort());
  });

  it("records the new expiry of an extension, and the configuration a change leaves", async () => {
    const f = outboxFixture();
    await holding(f);
    f.advance(10_000);
    const extended = await f.seats.extend(f.eventId, "h1", "u1");
    if (extended.kind !== "extended") throw new Error(extended.kind);
    const opensAtMs = (await redisNowMs(f.redis)) + 3_600_000;
    await f.queue.configure(f.eventId, { admitBurst: 3, sessionTtlSeconds: 120, idleTimeoutSeconds: 30, opensAtMs, state: Q.PAUSED });
    const entries = (await entriesAfter(f)).map((e) => e.fields);
    expect(entries.at(-2)).toMatchObject({ type: "seat.extended", expires: String(extended.hold.expiresAtMs) });
    expect(entries.at(-1)).toEqual(
      configured("1", { burst: "3", session_ttl: "120", idle_timeout: "30", opens_at: String(opensAtMs), state: String(Q.PAUSED) }),
    );
  });
});
