import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ConfigureQueueRequestSchema } from "../../gen/boxoffice/v1/queue_pb.js";
import { LoadSeatMapRequestSchema } from "../../gen/boxoffice/v1/seats_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { checkJsonRequest, timestampProblem } from "../../src/transport/connect/strict-json.js";

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const fields = (err: ConnectError | undefined) => err?.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field);

describe("checkJsonRequest", () => {
  it("passes a valid body, unknown keys included", () => {
    expect(checkJsonRequest(ConfigureQueueRequestSchema, bytes({ eventId: "e", state: "QUEUE_STATE_PAUSED", opensAt: "2028-02-29T23:59:59.5+01:00", later: 1 }))).toBeUndefined();
    expect(checkJsonRequest(ConfigureQueueRequestSchema, bytes({ event_id: "e", state: 2, opens_at: null }))).toBeUndefined();
  });

  it("names every bad field by its proto path, nested and repeated ones included", () => {
    const err = checkJsonRequest(
      LoadSeatMapRequestSchema,
      bytes({ eventId: "e", sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["a", 7, "b", {}] }] }, "x"], holdTtlSeconds: "ten" }),
    );
    expect(fields(err)).toEqual(["sections[0].rows[0].seat_ids[1]", "sections[0].rows[0].seat_ids[3]", "sections[1]", "hold_ttl_seconds"]);
    expect(err?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_REQUEST");
  });

  it("refuses unknown enum names, naming the value and the choices", () => {
    const err = checkJsonRequest(ConfigureQueueRequestSchema, bytes({ eventId: "e", state: "QUEUE_STATE_CLOSD" }));
    const violation = err?.findDetails(BadRequestSchema)[0]?.fieldViolations[0];
    expect(violation?.field).toBe("state");
    expect(violation?.description).toContain('"QUEUE_STATE_CLOSD"');
    expect(violation?.description).toContain("QUEUE_STATE_CLOSED");
  });

  it("refuses bodies that are not one JSON object, with ErrorInfo only", () => {
    for (const body of ['{"eventId":"e"', "[]", "null", '{"eventId":"e","eventId":"f"}']) {
      const err = checkJsonRequest(ConfigureQueueRequestSchema, bytes(body));
      expect(err?.findDetails(ErrorInfoSchema)[0]?.reason, body).toBe("INVALID_REQUEST");
    }
    expect(checkJsonRequest(ConfigureQueueRequestSchema, new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]))).toBeInstanceOf(ConnectError);
  });
});

describe("timestampProblem", () => {
  it.each(["2024-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "2030-12-31T23:59:59.999999999-05:30", "0001-01-01T00:00:00Z"])("accepts %s", (t) => {
    expect(timestampProblem(t)).toBeUndefined();
  });
  it.each(["2030-02-30T00:00:00Z", "2100-02-29T00:00:00Z", "2030-04-31T00:00:00Z", "2030-13-01T00:00:00Z", "2030-00-10T00:00:00Z", "2030-01-01T24:00:00Z", "2030-01-01T00:60:00Z", "2030-01-01T00:00:60Z", "2030-01-01T00:00:00+24:00", "2030-01-01", 5])(
    "refuses %s",
    (t) => {
      expect(timestampProblem(t)).toBeTypeOf("string");
    },
  );
});
