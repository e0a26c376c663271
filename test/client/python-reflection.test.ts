import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../e2e/server.js";

/**
 * examples/python/reflect_caller.py against the real server: Debian's
 * grpcio and protobuf, the server's address and nothing else. Everything it
 * calls and decodes it learns over server reflection on the gRPC port.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = "/usr/bin/python3";
const SCRIPT = join(root, "examples", "python", "reflect_caller.py");

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ ADMIT_INTERVAL_MS: "20" });
});

afterAll(async () => {
  await server?.stop();
});

describe("a Python caller that knows only the address", () => {
  it("has grpcio and protobuf in /usr/bin/python3", async () => {
    const probe = await run(PYTHON, ["-c", "import grpc, google.protobuf; print(grpc.__version__)"], { timeout: 30_000 }).catch(
      (err: Error & { stderr?: string }) => {
        throw new Error(`${PYTHON} cannot import grpc and google.protobuf (apt-get install python3-grpcio): ${err.stderr ?? err.message}`);
      },
    );
    expect(probe.stdout.trim()).not.toBe("");
  });

  it("discovers the contract by reflection, waits to be admitted and decodes a refusal", async () => {
    const { stdout } = await run(PYTHON, [SCRIPT, `127.0.0.1:${server.grpcPort}`], { cwd: root, timeout: 60_000 }).catch(
      (err: Error & { stderr?: string }) => {
        throw new Error(`reflect_caller.py failed: ${err.stderr || err.message}`);
      },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as {
      services: string[];
      newly_joined: boolean;
      positions: number[];
      final_state: string;
      error: Record<string, unknown>;
    };
    expect(result.services).toEqual(
      expect.arrayContaining(["boxoffice.v1.QueueService", "boxoffice.v1.SeatService", "boxoffice.v1.ChangeFeedService"]),
    );
    expect(result.newly_joined).toBe(true);
    expect(result.positions[0]).toBe(1);
    expect(result.final_state).toBe("TICKET_STATE_ADMITTED");
    expect(result.error).toMatchObject({ code: 5, code_name: "NOT_FOUND", status_code: 5, reason: "EVENT_NOT_FOUND", domain: "boxoffice.v1" });
  }, 90_000);
});
