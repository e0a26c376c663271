import { describe, expect, it } from "vitest";
import { hookedStream } from "../../src/rpc/hooked-stream.js";

/** An inner stream that records how it ended. */
function inner(values: number[], failWith?: Error) {
  const log: string[] = [];
  const stream = (async function* () {
    try {
      for (const v of values) yield v;
      if (failWith) throw failWith;
    } finally {
      log.push("inner finally");
    }
  })();
  return { log, stream };
}

function hooks(log: string[]) {
  return {
    done: () => log.push("done"),
    failed: (err: unknown) => {
      log.push(`failed: ${(err as Error).message}`);
      return new Error(`mapped ${(err as Error).message}`);
    },
    finally: () => log.push("finally"),
  };
}

describe("hookedStream", () => {
  it("starts at the first next, passes every value through, and runs done then finally once", async () => {
    const { log, stream } = inner([1, 2]);
    const wrapped = hookedStream(() => {
      log.push("start");
      return stream;
    }, hooks(log));
    expect(log).toEqual([]);
    const seen: number[] = [];
    for await (const v of wrapped) seen.push(v);
    expect(seen).toEqual([1, 2]);
    expect(log).toEqual(["start", "inner finally", "done", "finally"]);
    expect(await wrapped.next()).toEqual({ done: true, value: undefined });
    expect(log).toHaveLength(4);
  });

  it("rejects with what failed returns, for a throwing start and a failing stream", async () => {
    const log: string[] = [];
    const refused = hookedStream(() => {
      throw new Error("denied");
    }, hooks(log));
    await expect(refused.next()).rejects.toThrow("mapped denied");
    expect(log).toEqual(["failed: denied", "finally"]);

    const { log: log2, stream } = inner([1], new Error("boom"));
    const failing = hookedStream(() => stream, hooks(log2));
    expect(await failing.next()).toEqual({ done: false, value: 1 });
    await expect(failing.next()).rejects.toThrow("mapped boom");
    expect(log2).toEqual(["inner finally", "failed: boom", "finally"]);
  });

  it("ends the inner stream before finally when its reader stops early", async () => {
    const { log, stream } = inner([1, 2, 3]);
    const wrapped = hookedStream(() => stream, hooks(log));
    for await (const v of wrapped) {
      if (v === 2) break;
    }
    expect(log).toEqual(["inner finally", "finally"]);
    await wrapped.return(undefined);
    expect(log).toEqual(["inner finally", "finally"]);
  });
});
