import { describe, expect, it } from "vitest";
import { RandomTokens } from "../../src/util/random-token.js";

describe("RandomTokens", () => {
  it("hands out 22-character base64url tokens, none twice, across pool refills", () => {
    const tokens = new RandomTokens();
    const seen = new Set<string>();
    // 256 tokens per pool: 1,000 spans four refills.
    for (let i = 0; i < 1000; i++) {
      const token = tokens.next();
      expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(token);
    }
    expect(seen.size).toBe(1000);
  });

  it("uses every bit: each of the 128 bits is set in some token and clear in another", () => {
    const tokens = new RandomTokens();
    let anySet = Buffer.alloc(16);
    let anyClear = Buffer.alloc(16);
    for (let i = 0; i < 512; i++) {
      const bytes = Buffer.from(tokens.next(), "base64url");
      expect(bytes.length).toBe(16);
      anySet = Buffer.from(anySet.map((b, j) => b | (bytes[j] as number)));
      anyClear = Buffer.from(anyClear.map((b, j) => b | ~(bytes[j] as number) & 0xff));
    }
    expect(anySet.every((b) => b === 0xff)).toBe(true);
    expect(anyClear.every((b) => b === 0xff)).toBe(true);
  });
});
