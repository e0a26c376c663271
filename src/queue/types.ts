import type { OpeningPhase, StoredQueueState, StoredTicketState } from "../redis/outcomes.js";

export type TicketStateCode = (typeof StoredTicketState)[keyof typeof StoredTicketState];
export type QueueStateCode = (typeof StoredQueueState)[keyof typeof StoredQueueState];
export type OpeningPhaseCode = (typeof OpeningPhase)[keyof typeof OpeningPhase];

/** A user's ticket as the store sees it (no protobuf types below the service layer). */
export interface TicketView {
  readonly eventId: string;
  readonly userId: string;
  readonly state: TicketStateCode;
  /** 1-based while waiting, 0 otherwise (also 0 in the pre-queue, before the opening shuffle). */
  readonly position: number;
  readonly waitingTotal: number;
  readonly joinedAtMs: number;
  /** When the admission session began (epoch ms): set once ADMITTED, kept after the session ends. */
  readonly issuedAtMs?: number;
  /** When the admission pass expires (epoch ms): set with `issuedAtMs`. */
  readonly expiresAtMs?: number;
  /** Seconds until admission at the measured rate: WAITING only, absent while there is no rate. */
  readonly estimatedWaitSeconds?: number;
  /** Set while the user waits in the pre-queue: when the sale opens (epoch ms). */
  readonly opensAtMs?: number;
}

export interface QueueConfigView {
  readonly eventId: string;
  readonly admitRatePerSec: number;
  readonly admitBurst: number;
  readonly maxActive: number;
  readonly sessionTtlSeconds: number;
  readonly idleTimeoutSeconds: number;
  /** Epoch ms, or undefined for no pre-queue. */
  readonly opensAtMs: number | undefined;
  readonly state: QueueStateCode;
}

/** What ConfigureQueue asks to change; undefined keeps the current value (or the default on create). */
export interface QueueConfigChange {
  readonly admitRatePerSec?: number | undefined;
  readonly admitBurst?: number | undefined;
  readonly maxActive?: number | undefined;
  readonly sessionTtlSeconds?: number | undefined;
  readonly idleTimeoutSeconds?: number | undefined;
  /** A time sets it, `null` removes it, undefined keeps it. */
  readonly opensAtMs?: number | null | undefined;
  readonly state?: QueueStateCode | undefined;
}

export interface QueueStatsView {
  readonly config: QueueConfigView;
  readonly waiting: number;
  /** Of the waiting, users in the pre-queue (before or during the opening shuffle). */
  readonly preQueue: number;
  readonly joinedTotal: number;
  readonly admittedTotal: number;
  readonly oldestWaiterAgeMs: number;
  /** Admission sessions not yet expired. */
  readonly active: number;
  /** Measured admissions per second; absent before the first admission. */
  readonly admittedPerSec?: number;
}

export type NotFound = { readonly kind: "event_not_found" };

export type ConfigureResult = { readonly kind: "created" | "updated"; readonly config: QueueConfigView };
export type JoinResult =
  | { readonly kind: "joined" | "already_joined"; readonly ticket: TicketView }
  | NotFound
  | { readonly kind: "queue_closed" };
export type PositionResult =
  | { readonly kind: "ticket"; readonly ticket: TicketView }
  | NotFound
  | { readonly kind: "not_in_queue" };
export type LeaveResult =
  | { readonly kind: "left" | "already_ended"; readonly ticket: TicketView }
  | NotFound
  | { readonly kind: "not_in_queue" };
export type StatsResult = { readonly kind: "stats"; readonly stats: QueueStatsView } | NotFound;

/** Limits of one admission call; defaults from `QueueDefaults`. */
export interface AdmitOptions {
  /** Most users admitted by this call. */
  readonly maxAdmissions?: number;
  /** Most lapsed sessions ended (and idle users met at the head of the line) by this call. */
  readonly sessionBatch?: number;
  /** Most swaps of the opening shuffle done by this call. */
  readonly shuffleBatch?: number;
}

/** What one admission step of one event did. */
export interface AdmissionStep {
  readonly kind: "admission";
  readonly admitted: number;
  readonly sessionsEnded: number;
  /** Tokens left in the bucket (fractions carry over to the next step). */
  readonly tokens: number;
  /** Measured admissions per second; undefined before there is one. */
  readonly admittedPerSec: number | undefined;
  /** A limit of this call left work that is already due: call again at once. */
  readonly more: boolean;
  /** Where the event's opening stood (`OpeningPhase`). */
  readonly opening: OpeningPhaseCode;
}

export type AdmitResult = AdmissionStep | NotFound;

/** One step of the idle sweep's walk through an event's line. */
export type SweepStepResult =
  | {
      readonly kind: "swept";
      /** Waiters expired by this step (at most its `maxExpired`). */
      readonly expired: number;
      /** The walk goes on: another step is due now. */
      readonly more: boolean;
      /** Waiters this step read (at most its limit, fewer when it stopped at `maxExpired`; 0 when nobody can be idle yet). */
      readonly examined: number;
    }
  | NotFound;
