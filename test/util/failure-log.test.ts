import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Admitter, type AdmitTarget } from "../../src/queue/admitter.js";
import { EventSweeper, type SweepTarget } from "../../src/redis/event-sweeper.js";
import { OpeningPhase } from "../../src/redis/outcomes.js";
import { FailureLog } from "../../src/util/failure-log.js";

/** A pino logger whose lines the test reads. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

describe("FailureLog", () => {
  it("logs each distinct failure once, and the recovery once with the number of failed runs", () => {
    const { logger, lines } = capture();
    const log = new FailureLog({ logger, failed: "tick failed", recovered: "ticks succeed again", fields: { what: "x" } });
    log.succeeded();
    for (let i = 0; i < 5; i++) log.failed(new Error("Connection is closed."));
    log.failed(new Error("Command timed out"));
    log.failed(new Error("Command timed out"));
    expect(log.failing).toBe(true);
    log.succeeded();
    log.succeeded();
    expect(log.failing).toBe(false);
    expect(lines.map((l) => [l["msg"], (l["err"] as { message?: string } | undefined)?.message ?? l["failedRuns"], l["what"]])).toEqual([
      ["tick failed", "Connection is closed.", "x"],
      ["tick failed", "Command timed out", "x"],
      ["ticks succeed again", 7, "x"],
    ]);
  });
});

describe("Admitter through failures", () => {
  it("keeps ticking while its store fails, logs the failure once, and admits again when the store answers", async () => {
    const { logger, lines } = capture();
    let failuresLeft = 4;
    let resolveAdmitted!: () => void;
    const admittedAgain = new Promise<void>((resolve) => (resolveAdmitted = resolve));
    const target: AdmitTarget = {
      eventIds: async () => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
        }
        return ["e"];
      },
      admit: async () => {
        resolveAdmitted();
        return { kind: "admission", admitted: 1, sessionsEnded: 0, tokens: 0, admittedPerSec: undefined, more: false, opening: OpeningPhase.NONE };
      },
    };
    const admitter = new Admitter(target, { intervalMs: 5, logger });
    admitter.start();
    try {
      await admittedAgain;
    } finally {
      await admitter.stop();
    }
    expect(failuresLeft).toBe(0);
    expect(lines.filter((l) => l["msg"] === "admission tick failed")).toHaveLength(1);
    expect(lines.find((l) => l["msg"] === "admission ticks succeed again")).toMatchObject({ failedRuns: 4 });
  });
});

describe("EventSweeper through failures", () => {
  it("keeps sweeping while its store fails, logs the failure once, and sweeps again when the store answers", async () => {
    const { logger, lines } = capture();
    let failuresLeft = 3;
    let resolveSwept!: () => void;
    const sweptAgain = new Promise<void>((resolve) => (resolveSwept = resolve));
    const target: SweepTarget = {
      eventIds: async () => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error("Command timed out");
        }
        return ["e"];
      },
      sweep: async () => {
        resolveSwept();
        return { kind: "swept", expired: 1, more: false };
      },
    };
    const sweeper = new EventSweeper(target, { intervalMs: 5, batch: 10, what: "test items", logger });
    sweeper.start();
    try {
      await sweptAgain;
    } finally {
      await sweeper.stop();
    }
    expect(lines.filter((l) => l["msg"] === "sweep failed")).toEqual([expect.objectContaining({ what: "test items" })]);
    expect(lines.find((l) => l["msg"] === "sweeps succeed again")).toMatchObject({ failedRuns: 3, what: "test items" });
  });
});
