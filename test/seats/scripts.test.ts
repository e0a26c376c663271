import { describe, expect, it, onTestFinished } from "vitest";
import { queueKeys } from "../../src/queue/keys.js";
import { loadQueueScripts } from "../../src/queue/scripts.js";
import { ChangeType } from "../../src/redis/change-types.js";
import { Outcome, StoredHoldState, StoredSeatStatus } from "../../src/redis/outcomes.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { seatKeys } from "../../src/seats/keys.js";
import { loadSeatScripts } from "../../src/seats/scripts.js";
import { describeLibrary, listLibrary, occurrences } from "../support/functions.js";
import { connectRedis } from "../support/redis.js";

describe("seat scripts", () => {
  const library = loadSeatScripts();

  it("are pinned by the SHA of their library text, so a change to a script or its prelude is deliberate", () => {
    // Update with `npx vitest run test/seats/scripts.test.ts -u` after reviewing the change.
    expect(describeLibrary(library)).toMatchSnapshot();
  });

  it("define the outcome codes and stored states from TypeScript once, in the library's prelude", () => {
    for (const [name, code] of Object.entries(Outcome)) {
      expect(occurrences(library.source, `\nlocal ${name} = ${code}\n`)).toBe(1);
    }
    for (const [name, code] of Object.entries(StoredHoldState)) {
      expect(occurrences(library.source, `\nlocal H_${name} = ${code}\n`)).toBe(1);
    }
    for (const [name, code] of Object.entries(StoredSeatStatus)) {
      expect(occurrences(library.source, `\nlocal S_${name} = ${code}\n`)).toBe(1);
    }
    expect(occurrences(library.source, "\nlocal function best_available(")).toBe(1);
  });

  it("carry the outbox's change types from TypeScript in their prelude, and never spell one by hand", () => {
    for (const [name, type] of Object.entries(ChangeType)) {
      expect(occurrences(library.source, `\nlocal CT_${name} = "${type}"\n`)).toBe(1);
    }
    // The prelude renders them in double quotes; a hand-spelled one in a script or library would be in single quotes.
    expect(library.source).not.toMatch(/'(queue|seat)\.[a-z_]+'/);
  });

  it("load into Redis as one library with every function (each sweeps expired holds, so none is read-only)", async () => {
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    expect(await redis.function("LOAD", "REPLACE", library.source)).toBe(library.name);
    expect(await listLibrary(redis, library.name)).toEqual(
      Object.fromEntries([...library.functions.values()].map((fn) => [fn.functionName, []])),
    );
  });

  it("do not share a function name with the queue library", () => {
    const queue = new Set([...loadQueueScripts().functions.values()].map((fn) => fn.functionName));
    for (const fn of library.functions.values()) expect(queue.has(fn.functionName)).toBe(false);
  });

  it("refuse a call with the wrong number of keys before reaching Redis", () => {
    const redis = connectRedis({ lazyConnect: true });
    const runner = new ScriptRunner(redis, library);
    expect(() => runner.run("holdSeats", ["only-one"], [])).toThrow(/takes 11 keys, got 1/);
    redis.disconnect();
  });

  it("write to the same outbox stream as the waiting room, in one hash slot", () => {
    expect(eventLogKey("bo:", "ev-1")).toBe(queueKeys("bo:", "ev-1").log);
    expect(seatKeys("bo:", "ev-1").log).toBe(queueKeys("bo:", "ev-1").log);
    for (const key of Object.values(seatKeys("bo:", "ev-1"))) {
      expect(key).toMatch(/^bo:\{ev-1\}:/);
    }
  });
});
