import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type ChangeEventSchema,
  type FeedSeatSchema,
  type QueueConfiguredSchema,
  SessionEndReason,
} from "../../gen/boxoffice/v1/feed_pb.js";
import type { QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { ChangeType } from "../redis/change-types.js";
import { streamIdMs } from "./stream-id.js";

type ChangeEventInit = MessageInitShape<typeof ChangeEventSchema>;
type Payload = ChangeEventInit["payload"];

/** An outbox entry as the feed hands it over: its id, delivery and fields. */
export interface EntryView {
  readonly id: string;
  readonly deliveryCount: number;
  readonly replayedFromId: string | undefined;
  readonly fields: ReadonlyMap<string, string>;
}

/**
 * An outbox entry → `ChangeEvent`. The fields are those fixed in
 * `src/redis/change-types.ts`; a field that is missing reads as empty or 0,
 * and an entry of a type this version does not know arrives with its type
 * and no payload (never dropped: the consumer still acknowledges it).
 */
export function changeEventMessage(eventId: string, entry: EntryView): ChangeEventInit {
  const type = entry.fields.get("type") ?? "";
  const timeMs = streamIdMs(entry.replayedFromId ?? entry.id);
  return {
    id: entry.id,
    eventId,
    type,
    time: timeMs === undefined ? undefined : timestampFromMs(timeMs),
    deliveryCount: entry.deliveryCount,
    replayedFromId: entry.replayedFromId ?? "",
    payload: changePayload(eventId, type, entry.fields),
  };
}

/** The payload case of one change type, from the entry's fields. */
export function changePayload(eventId: string, type: string, fields: ReadonlyMap<string, string>): Payload {
  const f = new Fields(fields);
  switch (type) {
    case ChangeType.QUEUE_JOINED:
      return { case: "queueJoined", value: { userId: f.str("user"), seq: f.big("seq"), preQueue: f.flag("pre") } };
    case ChangeType.QUEUE_LEFT:
      return { case: "queueLeft", value: { userId: f.str("user"), seq: f.big("seq") } };
    case ChangeType.QUEUE_EXPIRED:
      return { case: "queueExpired", value: { userId: f.str("user"), seq: f.big("seq") } };
    case ChangeType.QUEUE_ADMITTED:
      return {
        case: "queueAdmitted",
        value: { userId: f.str("user"), seq: f.big("seq"), passIssuedAt: f.time("issued"), passExpiresAt: f.time("expires") },
      };
    case ChangeType.QUEUE_SESSION_ENDED:
      return {
        case: "queueSessionEnded",
        value: {
          userId: f.str("user"),
          seq: f.big("seq"),
          reason: SESSION_END_REASONS[f.str("reason")] ?? SessionEndReason.UNSPECIFIED,
          passIssuedAt: f.time("issued"),
          passExpiresAt: f.time("expires"),
        },
      };
    case ChangeType.QUEUE_SHUFFLED:
      return { case: "queueShuffled", value: { firstSeq: f.big("first"), lastSeq: f.big("seq") } };
    case ChangeType.QUEUE_CONFIGURED:
      return { case: "queueConfigured", value: queueConfigured(eventId, f) };
    case ChangeType.SEAT_MAP_LOADED:
      return {
        case: "seatMapLoaded",
        value: {
          sections: f.int("sections"),
          seats: f.int("seats"),
          tiers: f.int("tiers"),
          capacity: f.int("capacity"),
          replaced: f.flag("replaced"),
        },
      };
    case ChangeType.SEAT_HELD:
      return { case: "seatHeld", value: { ...hold(f), expiresAt: f.time("expires") } };
    case ChangeType.SEAT_EXTENDED:
      return { case: "seatExtended", value: { ...hold(f), expiresAt: f.time("expires") } };
    case ChangeType.SEAT_RELEASED:
      return { case: "seatReleased", value: hold(f) };
    case ChangeType.SEAT_CONFIRMED:
      return { case: "seatConfirmed", value: { ...hold(f), orderId: f.str("order") } };
    case ChangeType.SEAT_EXPIRED:
      return { case: "seatExpired", value: hold(f) };
    default:
      return { case: undefined };
  }
}

const SESSION_END_REASONS: Readonly<Record<string, SessionEndReason>> = {
  left: SessionEndReason.LEFT,
  expired: SessionEndReason.EXPIRED,
  confirmed: SessionEndReason.CONFIRMED,
};

function queueConfigured(eventId: string, f: Fields): MessageInitShape<typeof QueueConfiguredSchema> {
  const opensAt = f.str("opens_at");
  return {
    created: f.flag("created"),
    config: {
      eventId,
      admitRatePerSec: f.decimal("rate"),
      admitBurst: f.int("burst"),
      maxActive: f.int("max_active"),
      sessionTtlSeconds: f.int("session_ttl"),
      idleTimeoutSeconds: f.int("idle_timeout"),
      opensAt: opensAt === "" ? undefined : f.time("opens_at"),
      state: f.int("state") as QueueState,
    },
  };
}

function hold(f: Fields): { holdId: string; userId: string; seats: MessageInitShape<typeof FeedSeatSchema>[]; tierId: string; quantity: number } {
  const seats = f
    .str("seats")
    .split(",")
    .filter((item) => item !== "")
    .map((item) => {
      const [sectionId = "", rowId = "", seatId = ""] = item.split("|");
      return { seatId, sectionId, rowId };
    });
  return { holdId: f.str("hold"), userId: f.str("user"), seats, tierId: f.str("tier"), quantity: f.int("quantity") };
}

/** Reads an entry's string fields as the contract types them. */
class Fields {
  readonly #fields: ReadonlyMap<string, string>;
  constructor(fields: ReadonlyMap<string, string>) {
    this.#fields = fields;
  }
  str(name: string): string {
    return this.#fields.get(name) ?? "";
  }
  int(name: string): number {
    const value = Number(this.str(name));
    return Number.isSafeInteger(value) ? value : 0;
  }
  /** int64 fields (seqs) travel as bigint. */
  big(name: string): bigint {
    const raw = this.str(name);
    return /^-?\d{1,19}$/.test(raw) ? BigInt(raw) : 0n;
  }
  decimal(name: string): number {
    const value = Number(this.str(name));
    return Number.isFinite(value) ? value : 0;
  }
  flag(name: string): boolean {
    return this.str(name) === "1";
  }
  /** Epoch ms → Timestamp; undefined when absent or not a number. */
  time(name: string): Timestamp | undefined {
    const raw = this.str(name);
    const ms = Number(raw);
    return raw === "" || !Number.isSafeInteger(ms) ? undefined : timestampFromMs(ms);
  }
}
