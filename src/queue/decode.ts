import { OpeningPhase, Outcome, StoredQueueState, StoredTicketState } from "../redis/outcomes.js";
import { Reply } from "../redis/reply.js";
import { estimatedWaitSeconds } from "./estimate.js";
import type {
  AdmitResult,
  ConfigureResult,
  JoinResult,
  LeaveResult,
  OpeningPhaseCode,
  PositionResult,
  QueueConfigView,
  QueueStateCode,
  StatsResult,
  SweepStepResult,
  TicketStateCode,
  TicketView,
} from "./types.js";

/** One decoder per script: the `unknown` reply becomes a discriminated union. */

const TICKET_STATES = new Set<number>(Object.values(StoredTicketState));
const QUEUE_STATES = new Set<number>(Object.values(StoredQueueState));

export function ticketState(reply: Reply, index: number): TicketStateCode {
  const value = reply.int(index);
  return TICKET_STATES.has(value) ? (value as TicketStateCode) : reply.fail(`bad ticket state ${value}`);
}

const OPENING_PHASES = new Set<number>(Object.values(OpeningPhase));

function openingPhase(reply: Reply, index: number): OpeningPhaseCode {
  const value = reply.int(index);
  return OPENING_PHASES.has(value) ? (value as OpeningPhaseCode) : reply.fail(`bad opening phase ${value}`);
}

function queueState(reply: Reply, index: number): QueueStateCode {
  const value = reply.int(index);
  return QUEUE_STATES.has(value) ? (value as QueueStateCode) : reply.fail(`bad queue state ${value}`);
}

/** A measured rate carried as a decimal string; "" (none yet) is undefined. */
export function optionalRate(reply: Reply, index: number): number | undefined {
  if (reply.str(index) === "") {
    return undefined;
  }
  const rate = reply.decimal(index);
  return rate >= 0 ? rate : reply.fail(`negative rate at ${index}`);
}

/** The session fields of a ticket view: present once admitted (`issued_ms` > 0). */
export function sessionFields(issuedAtMs: number, expiresAtMs: number): Pick<TicketView, "issuedAtMs" | "expiresAtMs"> {
  return issuedAtMs > 0 ? { issuedAtMs, expiresAtMs } : {};
}

/** Reads `{state, position, waiting_total, joined_ms, issued_ms, expires_ms, rate_ewma, opens_at_ms}` starting at item 1. */
function ticket(reply: Reply, eventId: string, userId: string): TicketView {
  const state = ticketState(reply, 1);
  const position = reply.int(2);
  const wait = estimatedWaitSeconds(state, position, optionalRate(reply, 7));
  const opensAtMs = reply.int(8);
  return {
    eventId,
    userId,
    state,
    position,
    waitingTotal: reply.int(3),
    joinedAtMs: reply.int(4),
    ...sessionFields(reply.int(5), reply.int(6)),
    ...(wait === undefined ? {} : { estimatedWaitSeconds: wait }),
    ...(opensAtMs > 0 ? { opensAtMs } : {}),
  };
}

/** Ticket replies: the code, the ticket fields, the rate and the sale start. */
const TICKET_REPLY_LENGTH = 9;

/** Reads the 7 configuration items starting at `at`. */
function config(reply: Reply, eventId: string, at: number): QueueConfigView {
  const opensAt = reply.str(at + 5);
  return {
    eventId,
    admitRatePerSec: reply.decimal(at),
    admitBurst: reply.int(at + 1),
    maxActive: reply.int(at + 2),
    sessionTtlSeconds: reply.int(at + 3),
    idleTimeoutSeconds: reply.int(at + 4),
    opensAtMs: opensAt === "" ? undefined : Number(opensAt),
    state: queueState(reply, at + 6),
  };
}

export function decodeConfigure(raw: unknown, eventId: string): ConfigureResult {
  const reply = new Reply("configureQueue", raw, 8);
  const code = reply.int(0);
  switch (code) {
    case Outcome.CREATED:
      return { kind: "created", config: config(reply, eventId, 1) };
    case Outcome.UPDATED:
      return { kind: "updated", config: config(reply, eventId, 1) };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeJoin(raw: unknown, eventId: string, userId: string): JoinResult {
  const reply = new Reply("joinQueue", raw, TICKET_REPLY_LENGTH);
  const code = reply.int(0);
  switch (code) {
    case Outcome.JOINED:
      return { kind: "joined", ticket: ticket(reply, eventId, userId) };
    case Outcome.ALREADY_JOINED:
      return { kind: "already_joined", ticket: ticket(reply, eventId, userId) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.QUEUE_CLOSED:
      return { kind: "queue_closed" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodePosition(raw: unknown, eventId: string, userId: string): PositionResult {
  const reply = new Reply("getPosition", raw, TICKET_REPLY_LENGTH);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return { kind: "ticket", ticket: ticket(reply, eventId, userId) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.NOT_IN_QUEUE:
      return { kind: "not_in_queue" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeLeave(raw: unknown, eventId: string, userId: string): LeaveResult {
  const reply = new Reply("leaveQueue", raw, TICKET_REPLY_LENGTH);
  const code = reply.int(0);
  switch (code) {
    case Outcome.LEFT:
      return { kind: "left", ticket: ticket(reply, eventId, userId) };
    case Outcome.ALREADY_ENDED:
      return { kind: "already_ended", ticket: ticket(reply, eventId, userId) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    case Outcome.NOT_IN_QUEUE:
      return { kind: "not_in_queue" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeStats(raw: unknown, eventId: string): StatsResult {
  const reply = new Reply("readQueueStats", raw, 15);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK: {
      const admittedPerSec = optionalRate(reply, 13);
      return {
        kind: "stats",
        stats: {
          config: config(reply, eventId, 1),
          waiting: reply.int(8),
          preQueue: reply.int(14),
          joinedTotal: reply.int(9),
          admittedTotal: reply.int(10),
          oldestWaiterAgeMs: reply.int(11),
          active: reply.int(12),
          ...(admittedPerSec === undefined ? {} : { admittedPerSec }),
        },
      };
    }
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeAdmit(raw: unknown): AdmitResult {
  const reply = new Reply("admitQueue", raw, 7);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return {
        kind: "admission",
        admitted: reply.int(1),
        sessionsEnded: reply.int(2),
        tokens: reply.decimal(3),
        admittedPerSec: optionalRate(reply, 4),
        more: reply.int(5) === 1,
        opening: openingPhase(reply, 6),
      };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeSweepStep(raw: unknown): SweepStepResult {
  const reply = new Reply("sweepQueue", raw, 4);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return { kind: "swept", expired: reply.int(1), more: reply.int(2) === 1, examined: reply.int(3) };
    case Outcome.EVENT_NOT_FOUND:
      return { kind: "event_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}
