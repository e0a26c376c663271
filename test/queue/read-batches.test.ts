import { describe, expect, it } from "vitest";
import { StoredTicketState as T } from "../../src/redis/outcomes.js";
import { readBatches } from "../../src/queue/read-batches.js";
import { Watcher } from "../../src/queue/watcher.js";

/** A watcher never read (`new`), or a pre-queue watcher back to be read after the opening shuffle (`reread`). */
function watcher(userId: string, kind: "new" | "reread"): Watcher {
  const w = new Watcher(userId, new AbortController().signal);
  if (kind === "reread") {
    w.current = { eventId: "e", userId, state: T.WAITING, position: 0, waitingTotal: 9, joinedAtMs: 1 };
  }
  return w;
}

const users = (batches: ReturnType<typeof readBatches>) => batches.map((b) => b.users);

describe("readBatches", () => {
  it("reads whoever waits first in one batch, and only pre-queue re-reads in the others", () => {
    const pending = [watcher("n1", "new"), watcher("r1", "reread"), watcher("n2", "new"), watcher("r2", "reread"), watcher("n3", "new"), watcher("r3", "reread"), watcher("r4", "reread")];
    expect(users(readBatches(pending, 2, 10))).toEqual([["n1", "r1"], ["r2", "r3"], ["r4"]]);
  });

  it("puts every stream of a user in that user's batch", () => {
    const pending = [watcher("a", "reread"), watcher("b", "reread"), watcher("c", "reread"), watcher("a", "reread"), watcher("c", "new")];
    const batches = readBatches(pending, 2, 10);
    expect(users(batches)).toEqual([["a", "b"], ["c"]]);
    expect(batches.map((b) => b.watchers.map((w) => w.userId))).toEqual([["a", "b", "a"], ["c", "c"]]);
  });

  it("stops at the most batches a tick may send, and at one batch when only new watchers wait", () => {
    const rereads = Array.from({ length: 10 }, (_, i) => watcher(`r${i}`, "reread"));
    expect(users(readBatches(rereads, 3, 2))).toEqual([["r0", "r1", "r2"], ["r3", "r4", "r5"]]);
    const fresh = Array.from({ length: 10 }, (_, i) => watcher(`n${i}`, "new"));
    expect(users(readBatches(fresh, 3, 64))).toEqual([["n0", "n1", "n2"]]);
    expect(users(readBatches([], 3, 64))).toEqual([[]]);
  });
});
