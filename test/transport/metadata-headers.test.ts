import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { metadataToHeaderPairs } from "../../src/transport/grpc/metadata.js";
import { MetadataHeaders } from "../../src/transport/grpc/metadata-headers.js";

function sample(): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", "Bearer abc");
  metadata.add("x-multi", "one");
  metadata.add("x-multi", "two");
  metadata.set("trace-bin", Buffer.from([1, 2, 255]));
  return metadata;
}

describe("MetadataHeaders", () => {
  it("answers get and has like a full copy of the metadata would", () => {
    const lazy = new MetadataHeaders(sample());
    const full = new Headers(metadataToHeaderPairs(sample()));
    for (const name of ["authorization", "Authorization", "x-multi", "trace-bin", "absent"]) {
      expect(lazy.get(name)).toBe(full.get(name));
      expect(lazy.has(name)).toBe(full.has(name));
    }
    expect(lazy.get("x-multi")).toBe("one, two");
    expect(lazy.get("trace-bin")).toBe(Buffer.from([1, 2, 255]).toString("base64"));
  });

  it("iterates every entry, and after a change reads its own entries", () => {
    const lazy = new MetadataHeaders(sample());
    expect([...lazy]).toEqual([...new Headers(metadataToHeaderPairs(sample()))]);
    lazy.set("authorization", "Bearer other");
    lazy.delete("x-multi");
    expect(lazy.get("authorization")).toBe("Bearer other");
    expect(lazy.has("x-multi")).toBe(false);
    expect(lazy).toBeInstanceOf(Headers);

    const changedFirst = new MetadataHeaders(sample());
    changedFirst.append("x-new", "1");
    expect(Object.fromEntries(changedFirst.entries())).toMatchObject({ authorization: "Bearer abc", "x-new": "1", "x-multi": "one, two" });
  });
});
