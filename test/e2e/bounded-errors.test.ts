import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HoldSeatsRequestSchema, SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ERROR_BOUNDS } from "../../src/rpc/errors.js";
import { decodeDetails } from "../support/raw-wire.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

/**
 * An error about 1,000 bad seat ids stays a few KB: clients with default
 * metadata limits (grpcio's is 8 KiB) see INVALID_ARGUMENT, not
 * RESOURCE_EXHAUSTED, and the channel keeps working for the next call.
 */

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../support/grpcio_calls.py", import.meta.url));
const run = promisify(execFile);

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  await server?.redis.quit();
});

const badSeats = Array.from({ length: 1_000 }, (_, i) => `bad seat ${i}`);
const holdRequest = () => ({ eventId: uniqueId(), userId: "u", selection: { case: "seats" as const, value: { seatIds: badSeats } } });

interface PythonResult {
  code: string;
  details: string;
  trailerBytes: number;
  statusDetailsBin: string;
}

async function grpcio(target: string, ...calls: Array<[string, Uint8Array]>): Promise<PythonResult[]> {
  const args = [SCRIPT, target, ...calls.map(([path, bytes]) => `${path}:${Buffer.from(bytes).toString("hex")}`)];
  let stdout: string;
  try {
    ({ stdout } = await run(PYTHON, args, { timeout: 30_000 }));
  } catch (err) {
    const e = err as { code?: unknown; stderr?: unknown };
    throw new Error(
      e.code === 3 || e.code === "ENOENT"
        ? `this test needs Python grpcio at ${PYTHON} (apt-get install python3-grpcio): ${String(e.stderr ?? e.code)}`
        : `the grpcio client failed: ${String(e.stderr ?? err)}`,
    );
  }
  return stdout.trim().split("\n").map((line) => JSON.parse(line) as PythonResult);
}

describe("an error about 1,000 invalid seat ids", () => {
  it("reaches a default Python grpcio client as INVALID_ARGUMENT, and the channel's next call works", async () => {
    const hold = toBinary(HoldSeatsRequestSchema, create(HoldSeatsRequestSchema, holdRequest()));
    const [first, second] = await grpcio(`127.0.0.1:${server.grpcPort}`, ["/boxoffice.v1.SeatService/HoldSeats", hold], ["/grpc.health.v1.Health/Check", new Uint8Array()]);
    expect(first?.code).toBe("INVALID_ARGUMENT");
    expect(first?.trailerBytes).toBeLessThan(6_000);
    const { errorInfo, badRequest } = decodeDetails(first?.statusDetailsBin ?? "");
    expect(errorInfo?.reason).toBe("INVALID_REQUEST");
    expect(Number(errorInfo?.metadata["violations"])).toBeGreaterThanOrEqual(1_000);
    expect(badRequest?.fieldViolations).toHaveLength(ERROR_BOUNDS.violations);
    expect(second?.code).toBe("OK");
  });

  describe.each([
    ["gRPC port", () => server.grpcUrl],
    ["Connect port", () => server.connectUrl],
  ])("reaches a Node gRPC client on the %s", (_port, url) => {
    it("as INVALID_ARGUMENT with the first violations and a count; the connection's next call works", async () => {
      const transport = createGrpcTransport({ baseUrl: url() });
      const error = await createClient(SeatService, transport)
        .holdSeats(holdRequest())
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(error?.code).toBe(Code.InvalidArgument);
      const info = error?.findDetails(ErrorInfoSchema)[0];
      expect(Number(info?.metadata["violations"])).toBeGreaterThanOrEqual(1_000);
      expect(Number(info?.metadata["violations_omitted"])).toBe(Number(info?.metadata["violations"]) - ERROR_BOUNDS.violations);
      expect(error?.findDetails(BadRequestSchema)[0]?.fieldViolations).toHaveLength(ERROR_BOUNDS.violations);
      expect(error?.rawMessage.length).toBeLessThanOrEqual(ERROR_BOUNDS.messageChars);
      expect((await createClient(Health, transport).check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    });
  });
});
