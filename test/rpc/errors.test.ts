import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { boundError, ERROR_BOUNDS, invalidRequest, malformedRequest, reasonError, shuttingDown } from "../../src/rpc/errors.js";

/** What the error costs in gRPC trailers: the message plus the binary Status with its details. */
function wireBytes(err: ConnectError): number {
  const status = create(StatusSchema, {
    code: err.code,
    message: err.rawMessage,
    details: err.details.map((d) => ("desc" in d ? anyPack(d.desc, create(d.desc, d.value)) : anyPack(ErrorInfoSchema, create(ErrorInfoSchema)))),
  });
  return encodeURI(err.rawMessage).length + Math.ceil((toBinary(StatusSchema, status).byteLength * 4) / 3);
}

const info = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0];
const badRequest = (err: ConnectError) => err.findDetails(BadRequestSchema)[0];

describe("error bounds", () => {
  it("keeps the first violations of a huge invalid request and counts the rest", () => {
    const violations = Array.from({ length: 1_000 }, (_, i) => ({
      field: `seats.seat_ids[${i}]`,
      description: `value does not match regex pattern \`^[A-Za-z0-9._:-]{1,64}$\` ${"x".repeat(200)}`,
    }));
    const err = invalidRequest(violations);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(info(err)?.reason).toBe("INVALID_REQUEST");
    expect(info(err)?.metadata).toEqual({ violations: "1000", violations_omitted: "995" });
    const shown = badRequest(err)?.fieldViolations ?? [];
    expect(shown.map((v) => v.field)).toEqual(violations.slice(0, ERROR_BOUNDS.violations).map((v) => v.field));
    expect(shown.every((v) => v.description.length <= ERROR_BOUNDS.descriptionChars)).toBe(true);
    expect(err.rawMessage.length).toBeLessThanOrEqual(ERROR_BOUNDS.messageChars);
    expect(wireBytes(err)).toBeLessThan(4_096);
  });

  it("cuts a long id list in ErrorInfo metadata at an item and says how many were left out", () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `seat-${i}`);
    const err = reasonError(Code.FailedPrecondition, Reason.SEAT_UNAVAILABLE, `seats ${ids.join(", ")} are held or sold`, {
      event_id: "e",
      seat_ids: ids.join(","),
    });
    const metadata = info(err)?.metadata ?? {};
    const kept = (metadata["seat_ids"] ?? "").split(",");
    expect(kept).toEqual(ids.slice(0, kept.length));
    expect(metadata["seat_ids"]?.length).toBeLessThanOrEqual(ERROR_BOUNDS.metadataValueChars);
    expect(Number(metadata["seat_ids_omitted"])).toBe(ids.length - kept.length);
    expect(metadata["event_id"]).toBe("e");
    expect(err.rawMessage.length).toBeLessThanOrEqual(ERROR_BOUNDS.messageChars);
    expect(wireBytes(err)).toBeLessThan(4_096);
  });

  it("bounds an error built elsewhere, and leaves a bounded one untouched", () => {
    const huge = new ConnectError("y".repeat(100_000), Code.InvalidArgument, undefined, [
      {
        desc: ErrorInfoSchema,
        value: { reason: "X", domain: "d", metadata: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v".repeat(1_000)])) },
      },
      { desc: BadRequestSchema, value: { fieldViolations: Array.from({ length: 500 }, () => ({ field: "f".repeat(500), description: "d" })) } },
      { desc: StatusSchema, value: { message: "z".repeat(10_000) } },
    ]);
    const bounded = boundError(huge);
    expect(bounded.code).toBe(Code.InvalidArgument);
    expect(bounded.details).toHaveLength(2);
    expect(Object.keys(info(bounded)?.metadata ?? {})).toHaveLength(ERROR_BOUNDS.metadataEntries);
    expect(badRequest(bounded)?.fieldViolations).toHaveLength(ERROR_BOUNDS.violations);
    expect(wireBytes(bounded)).toBeLessThan(4_096);

    const small = shuttingDown();
    expect(boundError(small)).toBe(small);
    expect(info(small)?.reason).toBe("SHUTTING_DOWN");
    expect(malformedRequest("bad", { header: "grpc-timeout" }).findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ header: "grpc-timeout" });
  });
});
