import { createHmac } from "node:crypto";
import type { PassClaims } from "../../src/pass/pass.js";

/** Test secrets: raw text of at least 32 bytes. Never used outside tests. */
export const SECRET_A = "test-secret-a-0123456789abcdefghij";
export const SECRET_B = "test-secret-b-0123456789abcdefghij";
export const SECRET_C = "test-secret-c-0123456789abcdefghij";

export const CLAIMS: PassClaims = {
  eventId: "concert-2025",
  userId: "user:42",
  issuedAtMs: 1_700_000_000_000,
  expiresAtMs: 1_700_000_600_000,
};

/** A moment inside CLAIMS' validity window. */
export const DURING = CLAIMS.issuedAtMs + 1_000;

/**
 * Builds a token straight from the documented format, independently of the
 * signer: any payload text, signed with `secret` under `kid`.
 */
export function forge(kid: string, secret: string, payloadText: string): string {
  const signedText = `v1.${kid}.${Buffer.from(payloadText, "utf8").toString("base64url")}`;
  const signature = createHmac("sha256", Buffer.from(secret, "utf8")).update(signedText).digest("base64url");
  return `${signedText}.${signature}`;
}

/** The payload JSON the format prescribes for `claims`. */
export function payloadJson(claims: PassClaims): string {
  return JSON.stringify({ e: claims.eventId, u: claims.userId, i: claims.issuedAtMs, x: claims.expiresAtMs });
}

/** Replaces the character at `index` by another character of the base64url alphabet. */
export function flipChar(token: string, index: number): string {
  const c = token[index];
  return token.slice(0, index) + (c === "A" ? "B" : "A") + token.slice(index + 1);
}
