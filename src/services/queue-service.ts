import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { QueueService, type WatchPositionResponseSchema } from "../../gen/boxoffice/v1/queue_pb.js";
import { backendUnavailable, invalidRequest } from "../rpc/errors.js";
import type { PassKeyring } from "../pass/pass.js";
import type { QueueStore } from "../queue/queue-store.js";
import type { TicketView } from "../queue/types.js";
import type { PositionHub } from "../queue/position-watch.js";
import { configMessage, queueStateCode, statsMessage, ticketMessage, timestampField } from "./queue-convert.js";
import { queueErrors } from "./queue-errors.js";
import { TicketStreamEncoder } from "./ticket-stream.js";

type WatchPositionOutput = MessageInitShape<typeof WatchPositionResponseSchema>;

export interface QueueServiceDeps {
  readonly store: QueueStore;
  readonly hub: PositionHub;
  /** Signs the admission pass carried by ADMITTED tickets. */
  readonly passes: PassKeyring;
}

/**
 * QueueService over the Redis core. Requests arrive validated by the call
 * policy; each method is one store call whose result kinds map to a response
 * or to an entry of `queueErrors`.
 */
export function createQueueService({ store, hub, passes }: QueueServiceDeps): ServiceImpl<typeof QueueService> {
  const ticket = (view: TicketView) => ticketMessage(view, passes);
  return {
    async configureQueue(req) {
      if (req.clearOpensAt && req.opensAt) {
        throw invalidRequest([{ field: "clear_opens_at", description: "cannot be set together with opens_at" }]);
      }
      const opensAtMs = req.opensAt ? timestampField("opens_at", req.opensAt) : req.clearOpensAt ? null : undefined;
      const result = await store.configure(req.eventId, {
        admitRatePerSec: req.admitRatePerSec,
        admitBurst: req.admitBurst,
        maxActive: req.maxActive,
        sessionTtlSeconds: req.sessionTtlSeconds,
        idleTimeoutSeconds: req.idleTimeoutSeconds,
        opensAtMs,
        state: queueStateCode(req.state),
      });
      return { config: configMessage(result.config), created: result.kind === "created" };
    },

    async getQueueStats(req) {
      const result = await store.stats(req.eventId);
      switch (result.kind) {
        case "stats":
          return { stats: statsMessage(result.stats) };
        case "event_not_found":
          throw queueErrors.event_not_found(req.eventId);
      }
    },

    async join(req) {
      const result = await store.join(req.eventId, req.userId);
      switch (result.kind) {
        case "joined":
        case "already_joined":
          return { ticket: ticket(result.ticket), newlyJoined: result.kind === "joined" };
        case "event_not_found":
          throw queueErrors.event_not_found(req.eventId);
        case "queue_closed":
          throw queueErrors.queue_closed(req.eventId);
      }
    },

    async getPosition(req) {
      const result = await store.position(req.eventId, req.userId);
      switch (result.kind) {
        case "ticket":
          return { ticket: ticket(result.ticket) };
        case "event_not_found":
          throw queueErrors.event_not_found(req.eventId);
        case "not_in_queue":
          throw queueErrors.not_in_queue(req.eventId, req.userId);
      }
    },

    watchPosition(req, ctx) {
      // Items become messages as the stream takes them; most are a waiting
      // ticket's new place, encoded around this stream's fixed fields.
      const encoder = new TicketStreamEncoder();
      return hub.stream(req.eventId, req.userId, ctx.signal, (item): WatchPositionOutput => {
        switch (item.kind) {
          case "ticket": {
            const encoded = encoder.prepare(item.ticket);
            return encoded === undefined ? { ticket: ticket(item.ticket) } : encoded.as<WatchPositionOutput>();
          }
          case "event_not_found":
            throw queueErrors.event_not_found(req.eventId);
          case "not_in_queue":
            throw queueErrors.not_in_queue(req.eventId, req.userId);
          case "unavailable":
            throw backendUnavailable();
        }
      });
    },

    async leave(req) {
      const result = await store.leave(req.eventId, req.userId);
      switch (result.kind) {
        case "left":
        case "already_ended":
          return { ticket: ticket(result.ticket) };
        case "event_not_found":
          throw queueErrors.event_not_found(req.eventId);
        case "not_in_queue":
          throw queueErrors.not_in_queue(req.eventId, req.userId);
      }
    },
  };
}
