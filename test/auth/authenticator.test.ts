import { describe, expect, it } from "vitest";
import { Authenticator } from "../../src/auth/authenticator.js";
import { parseTokens } from "../../src/auth/tokens.js";

const CLIENT = "c".repeat(16);
const ADMIN = "A1b2C3d4E5f6G7h8-admin";

describe("Authenticator", () => {
  const auth = new Authenticator([
    { role: "client", token: CLIENT },
    { role: "admin", token: ADMIN },
  ]);

  it("tells missing from invalid credentials", () => {
    expect(auth.authenticate(null)).toEqual({ kind: "missing" });
    expect(auth.authenticate("")).toEqual({ kind: "missing" });
    expect(auth.authenticate(`Bearer ${"x".repeat(16)}`)).toEqual({ kind: "invalid" });
    expect(auth.authenticate(CLIENT)).toEqual({ kind: "invalid" });
    expect(auth.authenticate(`Basic ${CLIENT}`)).toEqual({ kind: "invalid" });
    expect(auth.authenticate("Bearer ")).toEqual({ kind: "invalid" });
    expect(auth.authenticate(`Bearer ${CLIENT} extra`)).toEqual({ kind: "invalid" });
    expect(auth.authenticate(`Bearer ${CLIENT}`.padEnd(5000, " "))).toEqual({ kind: "invalid" });
  });

  it("finds the role of a known token, whatever the scheme's case", () => {
    expect(auth.authenticate(`Bearer ${CLIENT}`)).toEqual({ kind: "authenticated", role: "client" });
    expect(auth.authenticate(`bearer ${ADMIN}`)).toEqual({ kind: "authenticated", role: "admin" });
    expect(auth.authenticate(`BEARER  ${ADMIN} `)).toEqual({ kind: "authenticated", role: "admin" });
  });

  it("does not take a prefix or an extension of a token", () => {
    expect(auth.authenticate(`Bearer ${CLIENT.slice(0, -1)}`)).toEqual({ kind: "invalid" });
    expect(auth.authenticate(`Bearer ${CLIENT}c`)).toEqual({ kind: "invalid" });
  });
});

describe("parseTokens", () => {
  it("reads comma- and line-separated entries, skipping blank and # lines", () => {
    const parsed = parseTokens(`# operators\nadmin:${ADMIN}\n\nclient:${CLIENT}, client:${"d".repeat(20)}\n`, "AUTH_TOKENS_FILE");
    expect(parsed).toEqual({
      entries: [
        { role: "admin", token: ADMIN },
        { role: "client", token: CLIENT },
        { role: "client", token: "d".repeat(20) },
      ],
    });
  });

  it("lists every bad entry without repeating its token", () => {
    const short = "tooShort123";
    const parsed = parseTokens(`client:${short},root:${ADMIN},nocolon,admin:${CLIENT},client:${CLIENT},client:has space in it!!!`, "AUTH_TOKENS");
    expect("problems" in parsed && parsed.problems).toEqual([
      "AUTH_TOKENS entry 1 (client): the token must be at least 16 characters",
      'AUTH_TOKENS entry 2 has role "root"; roles are client, admin',
      "AUTH_TOKENS entry 3 must be role:token",
      "AUTH_TOKENS entry 5 (client): the same token is listed twice; every token must be unique",
      "AUTH_TOKENS entry 6 (client): the token may only use A-Z a-z 0-9 . _ ~ + / = -",
    ]);
    const text = JSON.stringify(parsed);
    expect(text).not.toContain(short);
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain(CLIENT);
  });

  it("refuses a list without tokens", () => {
    expect(parseTokens("# nothing here\n", "AUTH_TOKENS_FILE")).toEqual({ problems: ["AUTH_TOKENS_FILE lists no token"] });
  });
});
