import { describe, expect, it } from "vitest";
import { Presence } from "../../src/queue/presence.js";

describe("Presence", () => {
  it("keeps one entry per user however many of their streams overlap, until the last one closes", () => {
    const p = new Presence();
    p.add("a", 0);
    // A reconnect: the new stream opens before the old one has closed, again and again.
    for (let i = 0; i < 10; i++) {
      p.add("a", i);
      p.remove("a");
    }
    p.add("b", 0);
    expect(p.size).toBe(2);
    expect(p.due(100, 100, 10)).toEqual(["a", "b"]);
    p.remove("a");
    expect(p.size).toBe(1);
    expect(p.due(200, 100, 10)).toEqual(["b"]);
    p.remove("b");
    expect(p.size).toBe(0);
    expect(p.due(1000, 100, 10)).toEqual([]);
  });

  it("hands out the users refreshed longest ago, at most `limit` at a time, each again only after `everyMs`", () => {
    const p = new Presence();
    for (const [i, u] of ["a", "b", "c", "d"].entries()) p.add(u, i * 10);
    expect(p.due(99, 100, 10)).toEqual([]);
    expect(p.due(110, 100, 2)).toEqual(["a", "b"]);
    expect(p.due(110, 100, 2)).toEqual([]);
    expect(p.due(130, 100, 2)).toEqual(["c", "d"]);
    expect(p.due(209, 100, 10)).toEqual([]);
    expect(p.due(210, 100, 10)).toEqual(["a", "b"]);
  });

  it("counts a read as a refresh, whatever the user's place in the order", () => {
    const p = new Presence();
    p.add("a", 0);
    p.add("b", 0);
    p.refreshed(["a", "unknown"], 50);
    expect(p.due(100, 100, 10)).toEqual(["b"]);
    expect(p.due(150, 100, 10)).toEqual(["a"]);
    expect(p.size).toBe(2);
  });
});
