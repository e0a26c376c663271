import { ChangeType } from "../redis/change-types.js";
import type { OutboxEntry } from "../redis/outbox-entry.js";
import { Outcome, StoredTicketState } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import { optionalRate } from "./decode.js";
import type { TicketStateCode } from "./types.js";

/** An outbox change that moves the line: someone left it, or the opening shuffle finished. */
export interface QueueChange {
  readonly kind: LineChangeType;
  readonly userId: string;
  readonly seq: number;
  /** The admission session, for `queue.admitted`; 0 otherwise. */
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

type LineChangeType =
  | typeof ChangeType.QUEUE_LEFT
  | typeof ChangeType.QUEUE_EXPIRED
  | typeof ChangeType.QUEUE_ADMITTED
  | typeof ChangeType.QUEUE_SHUFFLED;

const LINE_CHANGES = new Set<string>([ChangeType.QUEUE_LEFT, ChangeType.QUEUE_EXPIRED, ChangeType.QUEUE_ADMITTED, ChangeType.QUEUE_SHUFFLED]);

/**
 * The line change an outbox entry records; undefined for every other type
 * (joins, session ends, configuration, seats, types added later) and for an
 * entry without a usable `seq`, which the watch loop skips.
 */
export function queueChangeOf(entry: OutboxEntry): QueueChange | undefined {
  if (!LINE_CHANGES.has(entry.type)) {
    return undefined;
  }
  const seq = Number(entry.field("seq"));
  const issuedAtMs = Number(entry.field("issued") ?? 0);
  const expiresAtMs = Number(entry.field("expires") ?? 0);
  if (![seq, issuedAtMs, expiresAtMs].every(Number.isSafeInteger)) {
    return undefined;
  }
  return { kind: entry.type as LineChangeType, userId: entry.field("user") ?? "", seq, issuedAtMs, expiresAtMs };
}

/** A ticket read for a watcher; undefined when the user never joined. */
export interface WatchedTicket {
  readonly state: TicketStateCode;
  readonly position: number;
  readonly joinedAtMs: number;
  readonly seq: number;
  /** The admission session; 0 when never admitted. */
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** What one watch tick read (`QueueStore.watchTick`). */
export type WatchTick =
  | {
      readonly kind: "tick";
      /** The newest outbox id when the tick read: the tickets include every change up to it. */
      readonly logId: string;
      readonly waitingTotal: number;
      readonly tickets: ReadonlyMap<string, WatchedTicket | undefined>;
      readonly idleTimeoutSeconds: number;
      /** Measured admissions per second; undefined before the first. */
      readonly admittedPerSec: number | undefined;
      /** The sale start while a pre-queue waits for its shuffle (epoch ms); undefined otherwise. */
      readonly opensAtMs: number | undefined;
    }
  | { readonly kind: "event_not_found" };

const STATES = new Set<number>(Object.values(StoredTicketState));
const TICKET_STRIDE = 8;

export function decodeWatchTick(raw: unknown): WatchTick {
  const reply = new Reply("watchTick", raw, 7);
  const code = reply.int(0);
  if (code === Outcome.EVENT_NOT_FOUND) {
    return { kind: "event_not_found" };
  }
  if (code !== Outcome.OK) {
    return reply.fail(`outcome ${code}`);
  }
  const rows = reply.array(3);
  if (rows.length % TICKET_STRIDE !== 0) {
    return reply.fail("ragged ticket list");
  }
  const tickets = new Map<string, WatchedTicket | undefined>();
  for (let i = 0; i < rows.length; i += TICKET_STRIDE) {
    const [userId, found, state, position, joinedAtMs, seq, issuedAtMs, expiresAtMs] = rows.slice(i, i + TICKET_STRIDE);
    if (typeof userId !== "string") {
      return reply.fail(`bad ticket row at ${i}`);
    }
    if (found === 0) {
      tickets.set(userId, undefined);
      continue;
    }
    if (
      typeof state !== "number" ||
      !STATES.has(state) ||
      ![position, joinedAtMs, issuedAtMs, expiresAtMs].every((n) => typeof n === "number" && Number.isSafeInteger(n))
    ) {
      return reply.fail(`bad ticket row for ${userId}`);
    }
    tickets.set(userId, {
      state: state as TicketStateCode,
      position: position as number,
      joinedAtMs: joinedAtMs as number,
      seq: Number(seq),
      issuedAtMs: issuedAtMs as number,
      expiresAtMs: expiresAtMs as number,
    });
  }
  return {
    kind: "tick",
    logId: reply.str(1),
    waitingTotal: reply.int(2),
    tickets,
    idleTimeoutSeconds: reply.int(4),
    admittedPerSec: optionalRate(reply, 5),
    opensAtMs: reply.int(6) > 0 ? reply.int(6) : undefined,
  };
}
