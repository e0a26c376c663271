import { describe, expect, it } from "vitest";
import { MAX_PASS_LENGTH, PassKeyring, PassUsageError, parsePassKeys, verifyPass, type PassClaims } from "../../src/pass/pass.js";
import { CLAIMS, DURING, SECRET_A, SECRET_B, SECRET_C, flipChar, forge, payloadJson } from "./fixtures.js";

function ring(spec: string): PassKeyring {
  const parsed = parsePassKeys(spec);
  if (!("keys" in parsed)) {
    throw new Error(`test keys rejected: ${parsed.problems.join("; ")}`);
  }
  return parsed.keys;
}

const keysA = ring(`k1:${SECRET_A}`);

/** Pinned so that verifiers in other languages can test against it. */
const GOLDEN =
  "v1.k1.eyJlIjoiY29uY2VydC0yMDI1IiwidSI6InVzZXI6NDIiLCJpIjoxNzAwMDAwMDAwMDAwLCJ4IjoxNzAwMDAwNjAwMDAwfQ.57Y-eJPRvmPFMm3Qby4x09DrdJ-_oErZPwGC5Yh_9FI";

describe("sign", () => {
  it("writes the documented format, byte for byte", () => {
    const token = keysA.sign(CLAIMS);
    expect(token).toBe(GOLDEN);
    expect(token).toBe(forge("k1", SECRET_A, payloadJson(CLAIMS)));
    const [, , payload] = token.split(".");
    expect(Buffer.from(payload ?? "", "base64url").toString()).toBe(
      '{"e":"concert-2025","u":"user:42","i":1700000000000,"x":1700000600000}',
    );
  });

  it("is deterministic across keyrings built from the same keys", () => {
    expect(keysA.sign(CLAIMS)).toBe(keysA.sign({ ...CLAIMS }));
    expect(ring(`k1:${SECRET_A},k2:${SECRET_B}`).sign(CLAIMS)).toBe(keysA.sign(CLAIMS));
    expect(new PassKeyring([{ kid: "k1", secret: Buffer.from(SECRET_A) }]).sign(CLAIMS)).toBe(keysA.sign(CLAIMS));
  });

  it("keeps the longest possible pass under the length limit", () => {
    const longest: PassClaims = {
      eventId: "e".repeat(64),
      userId: "u".repeat(64),
      issuedAtMs: Number.MAX_SAFE_INTEGER - 1,
      expiresAtMs: Number.MAX_SAFE_INTEGER,
    };
    const token = ring(`${"k".repeat(32)}:${SECRET_A}`).sign(longest);
    expect(token.length).toBeLessThanOrEqual(MAX_PASS_LENGTH);
    expect(verifyPass(token, ring(`${"k".repeat(32)}:${SECRET_A}`), { nowMs: 0 })).toMatchObject({ kind: "valid", claims: longest });
  });

  it.each<[string, Partial<PassClaims>]>([
    ["an empty event id", { eventId: "" }],
    ["an event id with a brace", { eventId: "ev{1}" }],
    ["a user id with a quote", { userId: 'u"1' }],
    ["a user id of 65 characters", { userId: "u".repeat(65) }],
    ["a negative time", { issuedAtMs: -1 }],
    ["a fractional time", { expiresAtMs: CLAIMS.expiresAtMs + 0.5 }],
    ["an unsafe integer", { expiresAtMs: 2 ** 53 }],
    ["NaN", { issuedAtMs: Number.NaN }],
    ["expiry equal to issue", { expiresAtMs: CLAIMS.issuedAtMs }],
    ["expiry before issue", { expiresAtMs: CLAIMS.issuedAtMs - 1 }],
  ])("refuses to sign %s", (_, change) => {
    expect(() => keysA.sign({ ...CLAIMS, ...change })).toThrow(PassUsageError);
  });
});

describe("verifyPass", () => {
  const token = keysA.sign(CLAIMS);

  it("accepts a pass it signed and returns its claims and key id", () => {
    expect(verifyPass(token, keysA, { nowMs: DURING, eventId: CLAIMS.eventId, userId: CLAIMS.userId })).toEqual({
      kind: "valid",
      kid: "k1",
      claims: CLAIMS,
    });
  });

  it("uses the real clock when none is given", () => {
    const now = Date.now();
    const live = keysA.sign({ ...CLAIMS, issuedAtMs: now, expiresAtMs: now + 60_000 });
    const old = keysA.sign({ ...CLAIMS, issuedAtMs: now - 120_000, expiresAtMs: now - 60_000 });
    expect(verifyPass(live, keysA).kind).toBe("valid");
    expect(verifyPass(old, keysA).kind).toBe("expired");
  });

  it("is valid in [issuedAtMs, expiresAtMs): expired from the expiry instant on", () => {
    const at = (nowMs: number) => verifyPass(token, keysA, { nowMs }).kind;
    expect(at(CLAIMS.issuedAtMs)).toBe("valid");
    expect(at(CLAIMS.expiresAtMs - 1)).toBe("valid");
    expect(at(CLAIMS.expiresAtMs)).toBe("expired");
    expect(at(CLAIMS.expiresAtMs + 1)).toBe("expired");
    expect(verifyPass(token, keysA, { nowMs: CLAIMS.expiresAtMs })).toEqual({ kind: "expired", kid: "k1", claims: CLAIMS });
  });

  it("does not refuse a pass issued slightly in the future (clock differences between instances)", () => {
    expect(verifyPass(token, keysA, { nowMs: CLAIMS.issuedAtMs - 500 }).kind).toBe("valid");
  });

  it("refuses a clock that is not a number instead of letting the pass through", () => {
    expect(() => verifyPass(token, keysA, { nowMs: Number.NaN })).toThrow(PassUsageError);
  });

  it("reports another event, then another user, then expiry", () => {
    expect(verifyPass(token, keysA, { nowMs: DURING, eventId: "other" })).toEqual({ kind: "wrong_event", kid: "k1", claims: CLAIMS });
    expect(verifyPass(token, keysA, { nowMs: DURING, userId: "user:43" })).toEqual({ kind: "wrong_user", kid: "k1", claims: CLAIMS });
    expect(verifyPass(token, keysA, { nowMs: CLAIMS.expiresAtMs, eventId: "other", userId: "x" }).kind).toBe("wrong_event");
    expect(verifyPass(token, keysA, { nowMs: CLAIMS.expiresAtMs, userId: "x" }).kind).toBe("wrong_user");
  });

  it("detects a change to any character of the payload", () => {
    const start = token.indexOf(".", 3) + 1;
    const end = token.lastIndexOf(".");
    for (let i = start; i < end; i++) {
      expect(verifyPass(flipChar(token, i), keysA, { nowMs: DURING }).kind).toBe("bad_signature");
    }
  });

  it("detects a payload taken from another pass", () => {
    const other = keysA.sign({ ...CLAIMS, userId: "user:43" }).split(".");
    const [v, kid, , sig] = token.split(".");
    expect(verifyPass([v, kid, other[2], sig].join("."), keysA, { nowMs: DURING }).kind).toBe("bad_signature");
  });

  it("detects a change to any character of the signature, including a non-canonical last character", () => {
    const start = token.lastIndexOf(".") + 1;
    for (let i = start; i < token.length; i++) {
      expect(verifyPass(flipChar(token, i), keysA, { nowMs: DURING }).kind).toBe("bad_signature");
    }
    // The last character carries 2 padding bits; the same 32 bytes spelled differently are still refused.
    const last = token.at(-1) ?? "";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const twin = alphabet[alphabet.indexOf(last) ^ 1] ?? "";
    const spelledDifferently = token.slice(0, -1) + twin;
    expect(Buffer.from(spelledDifferently.slice(start), "base64url")).toEqual(Buffer.from(token.slice(start), "base64url"));
    expect(verifyPass(spelledDifferently, keysA, { nowMs: DURING }).kind).toBe("bad_signature");
  });

  it("refuses every truncation", () => {
    for (let length = 0; length < token.length; length++) {
      expect(verifyPass(token.slice(0, length), keysA, { nowMs: DURING }).kind).not.toBe("valid");
    }
    expect(verifyPass(token.slice(0, -1), keysA, { nowMs: DURING }).kind).toBe("malformed");
    expect(verifyPass(token.slice(0, token.lastIndexOf(".")), keysA, { nowMs: DURING }).kind).toBe("malformed");
  });

  it("names a key id it does not know", () => {
    const foreign = ring(`k9:${SECRET_A}`).sign(CLAIMS);
    expect(verifyPass(foreign, keysA, { nowMs: DURING })).toEqual({ kind: "unknown_key", kid: "k9" });
  });

  it("signs the key id: relabelling a pass to another listed key fails", () => {
    const both = ring(`k1:${SECRET_A},k2:${SECRET_A}`);
    const relabelled = token.replace("v1.k1.", "v1.k2.");
    expect(verifyPass(relabelled, both, { nowMs: DURING }).kind).toBe("bad_signature");
  });

  it("keeps old passes valid through a key rotation until the old key is removed", () => {
    const before = ring(`old:${SECRET_A}`);
    const during = ring(`new:${SECRET_B},old:${SECRET_A}`);
    const after = ring(`new:${SECRET_B}`);
    const oldPass = before.sign(CLAIMS);
    const newPass = during.sign(CLAIMS);

    expect(during.signingKid).toBe("new");
    expect(newPass.startsWith("v1.new.")).toBe(true);
    expect(verifyPass(oldPass, during, { nowMs: DURING })).toMatchObject({ kind: "valid", kid: "old" });
    expect(verifyPass(newPass, during, { nowMs: DURING })).toMatchObject({ kind: "valid", kid: "new" });
    expect(verifyPass(newPass, after, { nowMs: DURING })).toMatchObject({ kind: "valid", kid: "new" });
    expect(verifyPass(oldPass, after, { nowMs: DURING })).toEqual({ kind: "unknown_key", kid: "old" });
    // A verifier that learnt the new key early accepts new passes before any signer switches.
    expect(verifyPass(newPass, ring(`old:${SECRET_A},new:${SECRET_B}`), { nowMs: DURING }).kind).toBe("valid");
  });

  it("does not accept a pass signed with another secret under the same key id", () => {
    expect(verifyPass(ring(`k1:${SECRET_C}`).sign(CLAIMS), keysA, { nowMs: DURING }).kind).toBe("bad_signature");
  });
});

describe("verifyPass with malformed input", () => {
  const token = keysA.sign(CLAIMS);
  const [, , payload = "", signature = ""] = token.split(".");

  it.each<[string, unknown]>([
    ["empty", ""],
    ["only dots", "..."],
    ["three parts", `v1.k1.${payload}`],
    ["five parts", `${token}.x`],
    ["a doubled dot", token.replace(".", "..")],
    ["another version", token.replace(/^v1/, "v2")],
    ["an upper-case version", token.replace(/^v1/, "V1")],
    ["an empty key id", `v1..${payload}.${signature}`],
    ["a key id of 33 characters", `v1.${"k".repeat(33)}.${payload}.${signature}`],
    ["a key id with a colon", `v1.k:1.${payload}.${signature}`],
    ["an empty payload", `v1.k1..${signature}`],
    ["standard base64 characters", `v1.k1.${payload}+/.${signature}`],
    ["base64 padding", `v1.k1.${payload}=.${signature}`],
    ["a space", `${token} `],
    ["a newline", `${token}\n`],
    ["non-ASCII", `v1.k1.${payload}é.${signature}`],
    ["a short signature", token.slice(0, -2)],
    ["a long signature", `${token}A`],
    ["a huge input", `v1.k1.${"A".repeat(5_000_000)}.${signature}`],
    ["just over the length limit", `v1.k1.${"A".repeat(MAX_PASS_LENGTH)}.${signature}`],
    ["not a string", 42],
    ["undefined", undefined],
  ])("%s is malformed", (_, input) => {
    expect(verifyPass(input as string, keysA, { nowMs: DURING })).toEqual({ kind: "malformed" });
  });

  // Correctly signed, so only the payload check can refuse them.
  it.each<[string, string]>([
    ["not JSON", "hello, world"],
    ["empty JSON object", "{}"],
    ["a JSON array", '["concert-2025","user:42",1,2]'],
    ["keys in another order", '{"u":"user:42","e":"concert-2025","i":1,"x":2}'],
    ["whitespace", '{"e": "concert-2025","u":"user:42","i":1,"x":2}'],
    ["an extra field", '{"e":"concert-2025","u":"user:42","i":1,"x":2,"k":"k1"}'],
    ["a duplicated field", '{"e":"concert-2025","u":"user:42","i":1,"x":2,"x":3}'],
    ["a missing field", '{"e":"concert-2025","u":"user:42","i":1}'],
    ["a negative time", '{"e":"concert-2025","u":"user:42","i":-1,"x":2}'],
    ["a fractional time", '{"e":"concert-2025","u":"user:42","i":1.5,"x":2}'],
    ["a time in exponent form", '{"e":"concert-2025","u":"user:42","i":1,"x":2e3}'],
    ["a time as a string", '{"e":"concert-2025","u":"user:42","i":"1","x":2}'],
    ["a leading zero", '{"e":"concert-2025","u":"user:42","i":01,"x":2}'],
    ["an unsafe integer", '{"e":"concert-2025","u":"user:42","i":1,"x":9007199254740993}'],
    ["expiry equal to issue", '{"e":"concert-2025","u":"user:42","i":2,"x":2}'],
    ["expiry before issue", '{"e":"concert-2025","u":"user:42","i":3,"x":2}'],
    ["an empty event id", '{"e":"","u":"user:42","i":1,"x":2}'],
    ["an id outside the identifier rule", '{"e":"con cert","u":"user:42","i":1,"x":2}'],
    ["an escaped id", '{"e":"concert\\u002d2025","u":"user:42","i":1,"x":2}'],
    ["a numeric id", '{"e":2025,"u":"user:42","i":1,"x":2}'],
  ])("a signed payload with %s is malformed", (_, json) => {
    expect(verifyPass(forge("k1", SECRET_A, json), keysA, { nowMs: 0 })).toEqual({ kind: "malformed" });
  });

  it("accepts the same payload written exactly as prescribed", () => {
    expect(verifyPass(forge("k1", SECRET_A, '{"e":"concert-2025","u":"user:42","i":1,"x":2}'), keysA, { nowMs: 0 }).kind).toBe("valid");
  });
});

describe("verifyPass with a plain key map", () => {
  const token = keysA.sign(CLAIMS);

  it("accepts raw, base64 and byte secrets", () => {
    const base64 = `base64:${Buffer.from(SECRET_A).toString("base64")}`;
    for (const secret of [SECRET_A, base64, new TextEncoder().encode(SECRET_A)]) {
      expect(verifyPass(token, { k1: secret }, { nowMs: DURING })).toMatchObject({ kind: "valid", claims: CLAIMS });
    }
  });

  it("looks up own keys only", () => {
    for (const kid of ["constructor", "toString", "__proto__"]) {
      const forged = forge(kid, SECRET_A, payloadJson(CLAIMS));
      expect(verifyPass(forged, { k1: SECRET_A }, { nowMs: DURING })).toEqual({ kind: "unknown_key", kid });
    }
  });

  it("throws for an unusable key without quoting it", () => {
    const short = "short-secret-value";
    let caught: unknown;
    try {
      verifyPass(token, { k1: short }, { nowMs: DURING });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PassUsageError);
    expect(String(caught)).toContain('"k1"');
    expect(String(caught)).not.toContain(short);
  });
});
