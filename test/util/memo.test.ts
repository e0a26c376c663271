import { describe, expect, it } from "vitest";
import { memoByKey } from "../../src/util/memo.js";

describe("memoByKey", () => {
  it("computes once per key, and starts over past its limit", () => {
    const computed: string[] = [];
    const upper = memoByKey(2, (key) => {
      computed.push(key);
      return { value: key.toUpperCase() };
    });
    const a = upper("a");
    expect(upper("a")).toBe(a);
    expect(upper("b")).toEqual({ value: "B" });
    expect(computed).toEqual(["a", "b"]);
    // A third key clears the cache: "a" is computed again, as an equal but new value.
    expect(upper("c")).toEqual({ value: "C" });
    const again = upper("a");
    expect(again).toEqual(a);
    expect(again).not.toBe(a);
    expect(computed).toEqual(["a", "b", "c", "a"]);
  });
});
