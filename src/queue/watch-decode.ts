import { Outcome, StoredTicketState } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import type { TicketStateCode } from "./types.js";

/** A change read from the event's outbox. */
export interface QueueChange {
  readonly kind: string;
  readonly userId: string;
  readonly seq: number;
}

/** A ticket read for a newly registered watcher; undefined when the user never joined. */
export interface WatchedTicket {
  readonly state: TicketStateCode;
  readonly position: number;
  readonly joinedAtMs: number;
  readonly seq: number;
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
    }
  | { readonly kind: "event_not_found" };

const STATES = new Set<number>(Object.values(StoredTicketState));

export function decodeWatchTick(raw: unknown): WatchTick {
  const reply = new Reply("watchQueue", raw, 7);
  const code = reply.int(0);
  if (code === Outcome.EVENT_NOT_FOUND) {
    return { kind: "event_not_found" };
  }
  if (code !== Outcome.OK) {
    return reply.fail(`outcome ${code}`);
  }
  const flat = reply.array(4);
  const changes: QueueChange[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const [kind, userId, seq] = [flat[i], flat[i + 1], Number(flat[i + 2])];
    if (typeof kind !== "string" || typeof userId !== "string" || !Number.isSafeInteger(seq)) {
      return reply.fail(`bad change at ${i}`);
    }
    changes.push({ kind, userId, seq });
  }
  const rows = reply.array(5);
  const tickets = new Map<string, WatchedTicket | undefined>();
  for (let i = 0; i + 5 < rows.length; i += 6) {
    const [userId, found, state, position, joinedAtMs, seq] = rows.slice(i, i + 6);
    if (typeof userId !== "string") {
      return reply.fail(`bad ticket row at ${i}`);
    }
    if (found === 0) {
      tickets.set(userId, undefined);
      continue;
    }
    if (typeof state !== "number" || !STATES.has(state) || typeof position !== "number" || typeof joinedAtMs !== "number") {
      return reply.fail(`bad ticket row for ${userId}`);
    }
    tickets.set(userId, { state: state as TicketStateCode, position, joinedAtMs, seq: Number(seq) });
  }
  if (flat.length % 3 !== 0 || rows.length % 6 !== 0) {
    return reply.fail("ragged change or ticket list");
  }
  return {
    kind: "tick",
    cursor: reply.str(1),
    resync: reply.int(2) === 1,
    waitingTotal: reply.int(3),
    changes,
    tickets,
    idleTimeoutSeconds: reply.int(6),
  };
}
