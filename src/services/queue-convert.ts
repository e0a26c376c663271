import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type QueueConfigSchema,
  QueueState,
  type QueueStatsSchema,
  type TicketSchema,
  type TicketState,
} from "../../gen/boxoffice/v1/queue_pb.js";
import type { PassKeyring } from "../pass/pass.js";
import { StoredTicketState } from "../redis/outcomes.js";
import { invalidRequest } from "../rpc/errors.js";
import type { QueueConfigView, QueueStateCode, QueueStatsView, TicketView } from "../queue/types.js";

/** Domain views → protobuf messages. The stored state codes equal the proto enum values. */

/**
 * A ticket as callers see it. An ADMITTED ticket carries its admission pass,
 * signed here from the admission's stored times: any instance re-derives the
 * same token for the same admission.
 */
export function ticketMessage(ticket: TicketView, passes: PassKeyring): MessageInitShape<typeof TicketSchema> {
  const { issuedAtMs, expiresAtMs } = ticket;
  const admitted = ticket.state === StoredTicketState.ADMITTED && issuedAtMs !== undefined && expiresAtMs !== undefined;
  return {
    eventId: ticket.eventId,
    userId: ticket.userId,
    state: ticket.state as number as TicketState,
    position: ticket.position,
    waitingTotal: ticket.waitingTotal,
    estimatedWaitSeconds: ticket.estimatedWaitSeconds,
    joinedAt: timestampFromMs(ticket.joinedAtMs),
    opensAt: ticket.opensAtMs === undefined ? undefined : timestampFromMs(ticket.opensAtMs),
    pass: admitted
      ? {
          token: passes.sign({ eventId: ticket.eventId, userId: ticket.userId, issuedAtMs, expiresAtMs }),
          issuedAt: timestampFromMs(issuedAtMs),
          expiresAt: timestampFromMs(expiresAtMs),
        }
      : undefined,
  };
}

export function configMessage(config: QueueConfigView): MessageInitShape<typeof QueueConfigSchema> {
  return {
    eventId: config.eventId,
    admitRatePerSec: config.admitRatePerSec,
    admitBurst: config.admitBurst,
    maxActive: config.maxActive,
    sessionTtlSeconds: config.sessionTtlSeconds,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    opensAt: config.opensAtMs === undefined ? undefined : timestampFromMs(config.opensAtMs),
    state: config.state as number as QueueState,
  };
}

export function statsMessage(stats: QueueStatsView): MessageInitShape<typeof QueueStatsSchema> {
  return {
    eventId: stats.config.eventId,
    state: stats.config.state as number as QueueState,
    waiting: stats.waiting,
    preQueue: stats.preQueue,
    active: stats.active,
    admittedPerSec: stats.admittedPerSec,
    admittedTotal: stats.admittedTotal,
    joinedTotal: stats.joinedTotal,
    oldestWaiterAgeSeconds: Math.floor(stats.oldestWaiterAgeMs / 1000),
    config: configMessage(stats.config),
  };
}

/** `QueueState` → stored code; UNSPECIFIED means "keep". */
export function queueStateCode(state: QueueState): QueueStateCode | undefined {
  return state === QueueState.UNSPECIFIED ? undefined : (state as number as QueueStateCode);
}

const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

/** A valid Timestamp as epoch ms; INVALID_ARGUMENT naming `field` otherwise. */
export function timestampField(field: string, value: Timestamp): number {
  if (value.seconds < 0n || value.seconds > MAX_TIMESTAMP_SECONDS || value.nanos < 0 || value.nanos > 999_999_999) {
    throw invalidRequest([{ field, description: "must be a valid timestamp between 1970 and 9999" }]);
  }
  return timestampMs(value);
}
