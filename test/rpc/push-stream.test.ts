import { describe, expect, it } from "vitest";
import { hookedStream } from "../../src/rpc/hooked-stream.js";
import { pushStream, type PushHandle, type PushSink } from "../../src/util/push-stream.js";

/** An inner stream that records how it ended and each `next` asked of it. */
function inner(values: number[], failWith?: Error) {
  const log: string[] = [];
  const stream = (async function* () {
    try {
      for (const v of values) {
        log.push(`next ${v}`);
        yield v;
      }
      if (failWith) throw failWith;
    } finally {
      log.push("inner finally");
    }
  })();
  return { log, stream };
}

function hooks(log: string[]) {
  return {
    message: () => log.push("message"),
    done: () => log.push("done"),
    failed: (err: unknown) => {
      log.push(`failed: ${(err as Error).message}`);
      return new Error(`mapped ${(err as Error).message}`);
    },
    finally: () => log.push("finally"),
  };
}

/** A sink that takes `room` messages before it says it is full, and resolves `over` when the stream ends. */
function sink(room = Number.POSITIVE_INFINITY) {
  const got: unknown[] = [];
  let settle: (how: string) => void = () => {};
  const over = new Promise<string>((resolve) => (settle = resolve));
  const it: PushSink<number> & { got: unknown[]; over: Promise<string>; room: number } = {
    got,
    over,
    room,
    push(value) {
      got.push(value);
      return --it.room > 0;
    },
    end: () => settle("end"),
    fail: (err) => settle(`fail: ${(err as Error).message}`),
  };
  return it;
}

/** Lets pending promise reactions run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("pushStream", () => {
  it("pushes a hooked stream's messages through its hooks: one message hook each, then done and finally", async () => {
    const { log, stream } = inner([1, 2]);
    const to = sink();
    pushStream(
      hookedStream(() => {
        log.push("start");
        return stream;
      }, hooks(log)),
      to,
    );
    expect(await to.over).toBe("end");
    expect(to.got).toEqual([1, 2]);
    expect(log).toEqual(["start", "next 1", "message", "next 2", "message", "inner finally", "done", "finally"]);
  });

  it("asks nothing more of a stream while its sink is full, and goes on at resume", async () => {
    const { log, stream } = inner([1, 2, 3]);
    const to = sink(1);
    const handle: PushHandle = pushStream(hookedStream(() => stream, hooks(log)), to);
    await settled();
    expect(to.got).toEqual([1]);
    expect(log).toEqual(["next 1", "message"]);
    to.room = 10;
    handle.resume();
    expect(await to.over).toBe("end");
    expect(to.got).toEqual([1, 2, 3]);
  });

  it("fails with what the failed hook returns, for a throwing start and a failing stream", async () => {
    const log: string[] = [];
    const refused = sink();
    pushStream(
      hookedStream(() => {
        throw new Error("denied");
      }, hooks(log)),
      refused,
    );
    expect(await refused.over).toBe("fail: mapped denied");
    expect(log).toEqual(["failed: denied", "finally"]);

    const { log: log2, stream } = inner([1], new Error("boom"));
    const failing = sink();
    pushStream(hookedStream(() => stream, hooks(log2)), failing);
    expect(await failing.over).toBe("fail: mapped boom");
    expect(log2).toEqual(["next 1", "message", "inner finally", "failed: boom", "finally"]);
  });

  it("ends the inner stream and runs finally once when the reader cancels, and tells the sink nothing more", async () => {
    const { log, stream } = inner([1, 2, 3]);
    const to = sink(1);
    const handle = pushStream(hookedStream(() => stream, hooks(log)), to);
    await settled();
    handle.cancel();
    handle.cancel();
    await settled();
    expect(log).toEqual(["next 1", "message", "finally", "inner finally"]);
    handle.resume();
    await settled();
    expect(to.got).toEqual([1]);
  });
});
