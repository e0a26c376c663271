import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { PassKeyring, PassUsageError, parsePassKeys, verifyPass } from "../../src/pass/pass.js";
import { CLAIMS, DURING, SECRET_A, SECRET_B } from "./fixtures.js";

function problemsOf(spec: string): readonly string[] {
  const parsed = parsePassKeys(spec);
  return "problems" in parsed ? parsed.problems : [];
}

function keysOf(spec: string): PassKeyring {
  const parsed = parsePassKeys(spec);
  if (!("keys" in parsed)) {
    throw new Error(`rejected: ${parsed.problems.join("; ")}`);
  }
  return parsed.keys;
}

describe("parsePassKeys", () => {
  it("reads the documented example: the first key signs, all verify", () => {
    const keys = keysOf("2024-06:base64:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=,2024-01:an-older-raw-secret-of-32-bytes-or-more");
    expect(keys.kids).toEqual(["2024-06", "2024-01"]);
    expect(keys.signingKid).toBe("2024-06");
    const oldPass = keysOf("2024-01:an-older-raw-secret-of-32-bytes-or-more").sign(CLAIMS);
    expect(verifyPass(oldPass, keys, { nowMs: DURING })).toMatchObject({ kind: "valid", kid: "2024-01" });
  });

  it("ignores whitespace around entries", () => {
    const keys = keysOf(`  k1:${SECRET_A} ,\n k2:${SECRET_B}\n`);
    expect(keys.kids).toEqual(["k1", "k2"]);
    expect(keys.sign(CLAIMS)).toBe(keysOf(`k1:${SECRET_A}`).sign(CLAIMS));
  });

  it("splits at the first colon, so raw secrets may contain colons", () => {
    const secret = "with:colons:inside:0123456789abcdefghij";
    const token = keysOf(`k1:${secret}`).sign(CLAIMS);
    expect(verifyPass(token, { k1: secret }, { nowMs: DURING }).kind).toBe("valid");
  });

  it("treats base64 (standard or URL-safe, padded or not) as the decoded bytes", () => {
    const bytes = Buffer.from(Array.from({ length: 33 }, (_, i) => (i * 37 + 250) % 256));
    const expected = new PassKeyring([{ kid: "k1", secret: bytes }]).sign(CLAIMS);
    const standard = bytes.toString("base64");
    const urlSafe = bytes.toString("base64url");
    expect(standard).toMatch(/[+/]/);
    expect(urlSafe).toMatch(/[-_]/);
    for (const text of [standard, urlSafe]) {
      expect(keysOf(`k1:base64:${text}`).sign(CLAIMS)).toBe(expected);
    }
    const padded = Buffer.from(SECRET_A.slice(0, 32)).toString("base64");
    expect(padded.endsWith("=")).toBe(true);
    const raw = keysOf(`k1:${SECRET_A.slice(0, 32)}`).sign(CLAIMS);
    expect(keysOf(`k1:base64:${padded}`).sign(CLAIMS)).toBe(raw);
    expect(keysOf(`k1:base64:${padded.replace(/=+$/, "")}`).sign(CLAIMS)).toBe(raw);
  });

  it("counts secret length in UTF-8 bytes", () => {
    expect(problemsOf(`k1:${"é".repeat(16)}`)).toEqual([]);
    expect(problemsOf(`k1:${"é".repeat(15)}`)).toEqual(['entry 1 (key id "k1"): secret is 30 bytes, at least 32 are required']);
  });

  it.each(["", "   ", "\n"])("refuses an empty spec %j", (spec) => {
    expect(problemsOf(spec)).toEqual(["no keys: expected kid:secret[,kid:secret...]"]);
  });

  it("lists every problem at once without quoting a secret", () => {
    const secrets = {
      short: "tooShortSecret",
      shortBase64: Buffer.from("sixteen-byte-key").toString("base64"),
      notBase64: "not*base64*at*all*0123456789abcdefghijklmnop",
      orphan: "orphanSecretWithoutAnyKeyId0123456789abcdef",
      afterBadKid: "xyzzy:secret-after-a-bad-kid-0123456789abcdef",
    };
    const spec = [
      `k1:${SECRET_A}`,
      `k1:${SECRET_B}`,
      `k2:${secrets.short}`,
      "",
      `k3:base64:${secrets.shortBase64}`,
      `k4:base64:${secrets.notBase64}`,
      secrets.orphan,
      `bad kid!:${secrets.afterBadKid}`,
      `${"k".repeat(33)}:${SECRET_A}`,
      `base64:${Buffer.from(SECRET_A).toString("base64")}`,
      `k5:`,
    ].join(",");
    const problems = problemsOf(spec);
    expect(problems).toEqual([
      'entry 2: key id "k1" is already used by entry 1',
      'entry 3 (key id "k2"): secret is 14 bytes, at least 32 are required',
      "entry 4 is empty",
      'entry 5 (key id "k3"): secret is 16 bytes, at least 32 are required',
      'entry 6 (key id "k4"): secret after "base64:" is not valid base64',
      'entry 7 has no "kid:" before its secret',
      "entry 8: key id must be 1-32 of [A-Za-z0-9_-]",
      "entry 9: key id must be 1-32 of [A-Za-z0-9_-]",
      'entry 10: key id "base64" looks like a secret without its key id; write <kid>:base64:<secret>',
      'entry 11 (key id "k5"): secret is 0 bytes, at least 32 are required',
    ]);
    const text = JSON.stringify(problems);
    for (const secret of [SECRET_A, SECRET_B, ...Object.values(secrets)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(0, 8));
    }
    expect(text).not.toContain("bad kid");
  });

  it.each(["abcde", "ab=c", "abcd=", "abc==", "ab+c-d"])("refuses malformed base64 %j", (text) => {
    expect(problemsOf(`k1:base64:${text}`)).toEqual(['entry 1 (key id "k1"): secret after "base64:" is not valid base64']);
  });

  it("refuses a trailing comma", () => {
    expect(problemsOf(`k1:${SECRET_A},`)).toEqual(["entry 2 is empty"]);
  });
});

describe("PassKeyring", () => {
  it("can be built from keys in code", () => {
    const keys = new PassKeyring([
      { kid: "k2", secret: SECRET_B },
      { kid: "k1", secret: SECRET_A },
    ]);
    expect(keys.signingKid).toBe("k2");
    expect(keys.kids).toEqual(["k2", "k1"]);
    expect(keys.sign(CLAIMS)).toBe(keysOf(`k2:${SECRET_B}`).sign(CLAIMS));
  });

  it("throws one error listing every problem, without secrets", () => {
    const short = "shortSecretValue";
    let caught: unknown;
    try {
      new PassKeyring([
        { kid: "k1", secret: short },
        { kid: "k1", secret: SECRET_A },
        { kid: "", secret: SECRET_B },
      ]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PassUsageError);
    const error = caught as PassUsageError;
    expect(error.problems).toEqual([
      'key 1 (key id "k1"): secret is 16 bytes, at least 32 are required',
      'key 2: key id "k1" is already used by key 1',
      "key 3: key id must be 1-32 of [A-Za-z0-9_-]",
    ]);
    expect(`${error.message}${error.stack ?? ""}`).not.toContain(short);
  });

  it("refuses an empty list", () => {
    expect(() => new PassKeyring([])).toThrow(new PassUsageError(["no keys"]));
  });

  it("does not show its secrets when logged or serialised", () => {
    const keys = keysOf(`k1:${SECRET_A},k2:base64:${Buffer.from(SECRET_B).toString("base64")}`);
    const shown = `${inspect(keys, { depth: 10, showHidden: true })} ${JSON.stringify(keys)} ${String(keys)}`;
    for (const secret of [SECRET_A, SECRET_B, Buffer.from(SECRET_B).toString("base64")]) {
      expect(shown).not.toContain(secret);
    }
  });

  it("does not keep a reference to caller-owned key bytes", () => {
    const bytes = Buffer.from(SECRET_A);
    const keys = new PassKeyring([{ kid: "k1", secret: bytes }]);
    const before = keys.sign(CLAIMS);
    bytes.fill(0);
    expect(keys.sign(CLAIMS)).toBe(before);
  });
});
