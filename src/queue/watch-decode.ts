import { Outcome, StoredTicketState } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import { optionalRate } from "./decode.js";
import type { TicketStateCode } from "./types.js";

/** A change read from the event's outbox. */
export interface QueueChange {
  readonly kind: string;
  readonly userId: string;
  readonly seq: number;
  /** The admission session, for `queue.admitted` and `queue.session_ended`; 0 otherwise. */
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** A ticket read for a newly registered watcher; undefined when the user never joined. */
export interface WatchedTicket {
  readonly state: TicketStateCode;
  readonly position: number;
  readonly joinedAtMs: number;
  readonly seq: number;
  /** The admission session; 0 when never admitted. */
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

export type WatchTick =
  | {
      readonly kind: "tick";
      readonly cursor: string;
      readonly resync: boolean;
      readonly waitingTotal: number;
      readonly changes: readonly QueueChange[];
      readonly tickets: ReadonlyMap<string, WatchedTicket | undefined>;
      readonly idleTimeoutSeconds: number;
      /** Measured admissions per second; undefined before the first. */
      readonly admittedPerSec: number | undefined;
      /** The sale start while a pre-queue waits for its shuffle (epoch ms); undefined otherwise. */
      readonly opensAtMs: number | undefined;
    }
  | { readonly kind: "event_not_found" };

const STATES = new Set<number>(Object.values(StoredTicketState));
const CHANGE_STRIDE = 5;
const TICKET_STRIDE = 8;

export function decodeWatchTick(raw: unknown): WatchTick {
  const reply = new Reply("watchQueue", raw, 9);
  const code = reply.int(0);
  if (code === Outcome.EVENT_NOT_FOUND) {
    return { kind: "event_not_found" };
  }
  if (code !== Outcome.OK) {
    return reply.fail(`outcome ${code}`);
  }
  const flat = reply.array(4);
  const rows = reply.array(5);
  if (flat.length % CHANGE_STRIDE !== 0 || rows.length % TICKET_STRIDE !== 0) {
    return reply.fail("ragged change or ticket list");
  }
  const changes: QueueChange[] = [];
  for (let i = 0; i < flat.length; i += CHANGE_STRIDE) {
    const [kind, userId] = [flat[i], flat[i + 1]];
    const [seq, issuedAtMs, expiresAtMs] = [flat[i + 2], flat[i + 3], flat[i + 4]].map(Number) as [number, number, number];
    if (typeof kind !== "string" || typeof userId !== "string" || ![seq, issuedAtMs, expiresAtMs].every(Number.isSafeInteger)) {
      return reply.fail(`bad change at ${i}`);
    }
    changes.push({ kind, userId, seq, issuedAtMs, expiresAtMs });
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
    cursor: reply.str(1),
    resync: reply.int(2) === 1,
    waitingTotal: reply.int(3),
    changes,
    tickets,
    idleTimeoutSeconds: reply.int(6),
    admittedPerSec: optionalRate(reply, 7),
    opensAtMs: reply.int(8) > 0 ? reply.int(8) : undefined,
  };
}
