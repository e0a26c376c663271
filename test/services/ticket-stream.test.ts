import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WatchPositionResponseSchema } from "../../gen/boxoffice/v1/queue_pb.js";
import { parsePassKeys } from "../../src/pass/pass.js";
import type { TicketView } from "../../src/queue/types.js";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import { ticketMessage } from "../../src/services/queue-convert.js";
import { TicketStreamEncoder } from "../../src/services/ticket-stream.js";
import { OutputScratch } from "../../src/transport/grpc/output-scratch.js";

const parsed = parsePassKeys(`k1:base64:${Buffer.alloc(32, 7).toString("base64")}`);
if (!("keys" in parsed)) throw new Error("test key");
const passes = parsed.keys;

/** What the generic path sends for the same ticket. */
function reference(view: TicketView): Uint8Array {
  return toBinary(WatchPositionResponseSchema, create(WatchPositionResponseSchema, { ticket: ticketMessage(view, passes) }));
}

const base: TicketView = {
  eventId: "event-1",
  userId: "user-\u00e9-1",
  state: T.WAITING,
  position: 1234,
  waitingTotal: 50_000,
  joinedAtMs: 1_796_120_673_013,
};

describe("TicketStreamEncoder", () => {
  it("writes the same bytes as toBinary of the response, message after message of one stream", () => {
    const encoder = new TicketStreamEncoder();
    const views: TicketView[] = [
      base,
      { ...base, position: 1233 },
      { ...base, position: 127, waitingTotal: 128, estimatedWaitSeconds: 0 },
      { ...base, position: 0, waitingTotal: 0, estimatedWaitSeconds: 2_147_483_647 },
      { ...base, position: 2_000_000, estimatedWaitSeconds: 16_384 },
      { ...base, joinedAtMs: 1_796_120_673_000 },
      { ...base, joinedAtMs: 999 },
      { ...base, joinedAtMs: 0 },
      { ...base, state: T.LEFT, position: 0 },
      { ...base, state: T.EXPIRED, position: 0, issuedAtMs: 1_796_120_700_000, expiresAtMs: 1_796_120_760_000 },
      { ...base, eventId: "another", userId: "u" },
    ];
    for (const view of views) {
      const bytes = encoder.encode(view);
      expect(bytes, JSON.stringify(view)).toEqual(reference(view));
      expect(fromBinary(WatchPositionResponseSchema, bytes as Uint8Array).ticket?.position).toBe(view.position);
    }
  });

  it("leaves tickets with a pass or an opening time, and values it does not write, to the generic path", () => {
    const encoder = new TicketStreamEncoder();
    expect(encoder.encode({ ...base, state: T.ADMITTED, position: 0, issuedAtMs: 1, expiresAtMs: 2 })).toBeUndefined();
    expect(encoder.encode({ ...base, position: 0, opensAtMs: 1_796_120_700_000 })).toBeUndefined();
    expect(encoder.encode({ ...base, position: -1 })).toBeUndefined();
    expect(encoder.encode({ ...base, joinedAtMs: -5 })).toBeUndefined();
    // And then goes on with the ones it writes.
    expect(encoder.encode(base)).toEqual(reference(base));
  });

  it("writes each message over the last one in the gRPC port's reused buffer, same bytes as toBinary", () => {
    const encoder = new TicketStreamEncoder();
    const scratch = new OutputScratch();
    const views: TicketView[] = [
      { ...base, position: 2_000_000, waitingTotal: 2_000_000, estimatedWaitSeconds: 2_147_483_647 },
      { ...base, position: 1, waitingTotal: 1 },
      { ...base, position: 2_000_000, waitingTotal: 2_000_000, estimatedWaitSeconds: 2_147_483_647 },
      { ...base, position: 1, waitingTotal: 1, estimatedWaitSeconds: 0 },
    ];
    for (const view of views) {
      const encoded = encoder.prepare(view);
      expect(encoded).toBeDefined();
      const written = scratch.write(encoded!);
      expect(new Uint8Array(written), JSON.stringify(view)).toEqual(reference(view));
    }
  });
});
