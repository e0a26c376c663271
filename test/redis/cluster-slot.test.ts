import { describe, expect, it } from "vitest";
import { keySlot } from "../../src/redis/cluster-slot.js";

describe("keySlot", () => {
  it("is CRC16 (XMODEM) modulo 16384, as the Redis Cluster specification computes it", () => {
    // The specification's check value: CRC16 of "123456789" is 0x31C3.
    expect(keySlot("123456789")).toBe(0x31c3);
    expect(keySlot("")).toBe(0);
    // Answers of CLUSTER KEYSLOT on Redis 7.0.
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bo:{test-1}:s:config")).toBe(keySlot("test-1"));
  });

  it("hashes only the hash tag: the bytes between the first { and the first } after it, when not empty", () => {
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"));
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
    // An empty tag, or none closed: the whole key.
    expect(keySlot("foo{}{bar}")).toBe(8363);
    expect(keySlot("foo{bar")).toBe(15278);
  });
});
