import { createHmac, type KeyObject } from "node:crypto";

/**
 * The admission pass on the wire, shared by the signer and the verifier:
 *
 *     v1.<kid>.<payload>.<signature>
 *
 * - `kid`: the id of the signing key, 1–32 of `[A-Za-z0-9_-]`.
 * - `payload`: base64url (no padding) of the compact JSON
 *   `{"e":<event id>,"u":<user id>,"i":<issued at, epoch ms>,"x":<expires at, epoch ms>}`,
 *   always with exactly these keys in this order and no whitespace. Ids follow
 *   the project's identifier rule (1–64 of `[A-Za-z0-9._:-]`, starting with a
 *   letter or digit), so they never need JSON escaping; times are non-negative
 *   safe integers with `x > i`.
 * - `signature`: base64url (no padding, always 43 characters) of
 *   HMAC-SHA256(key, "v1.<kid>.<payload>"). The key id is inside the signed
 *   text, so a token cannot be moved to another key.
 *
 * Encoding is canonical, so equal claims and key give byte-equal tokens: any
 * instance can re-derive a user's pass from what Redis stores.
 */

export const PASS_VERSION = "v1";

/** Longest token accepted; the longest valid one is 327 characters. */
export const MAX_PASS_LENGTH = 512;

/** What a pass says. Times are epoch milliseconds; the pass is valid in `[issuedAtMs, expiresAtMs)`. */
export interface PassClaims {
  readonly eventId: string;
  readonly userId: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

export const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** SPEC "Identifiers": event and user ids. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Whole-token shape: exactly four parts, the version, a kid, base64url payload and a 32-byte MAC. */
const TOKEN_PATTERN = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{1,500})\.([A-Za-z0-9_-]{43})$/;

/** The only payload text a signer produces; anything else is malformed. */
const PAYLOAD_PATTERN =
  /^\{"e":"([A-Za-z0-9][A-Za-z0-9._:-]{0,63})","u":"([A-Za-z0-9][A-Za-z0-9._:-]{0,63})","i":(0|[1-9][0-9]{0,15}),"x":(0|[1-9][0-9]{0,15})\}$/;

/** A token split into its parts; nothing is authenticated yet. */
export interface PassParts {
  readonly kid: string;
  /** `v1.<kid>.<payload>`: the text the signature covers. */
  readonly signedText: string;
  readonly payload: string;
  readonly signature: string;
}

/** Splits a token, or returns undefined when its shape is wrong. Bounded work for any input. */
export function splitPass(token: unknown): PassParts | undefined {
  if (typeof token !== "string" || token.length > MAX_PASS_LENGTH) {
    return undefined;
  }
  const match = TOKEN_PATTERN.exec(token);
  if (match === null) {
    return undefined;
  }
  const [, kid = "", payload = "", signature = ""] = match;
  return { kid, payload, signature, signedText: token.slice(0, token.length - signature.length - 1) };
}

/** Why these claims cannot be signed, or undefined when they can. */
export function claimsProblem(claims: PassClaims): string | undefined {
  const { eventId, userId, issuedAtMs, expiresAtMs } = claims;
  if (typeof eventId !== "string" || !ID_PATTERN.test(eventId)) {
    return "eventId must be 1-64 of [A-Za-z0-9._:-], starting with a letter or digit";
  }
  if (typeof userId !== "string" || !ID_PATTERN.test(userId)) {
    return "userId must be 1-64 of [A-Za-z0-9._:-], starting with a letter or digit";
  }
  if (!isTime(issuedAtMs) || !isTime(expiresAtMs)) {
    return "issuedAtMs and expiresAtMs must be non-negative safe integers";
  }
  if (expiresAtMs <= issuedAtMs) {
    return "expiresAtMs must be after issuedAtMs";
  }
  return undefined;
}

/** The payload part for claims that passed `claimsProblem`. */
export function encodePayload(claims: PassClaims): string {
  const json = `{"e":"${claims.eventId}","u":"${claims.userId}","i":${claims.issuedAtMs},"x":${claims.expiresAtMs}}`;
  return Buffer.from(json, "latin1").toString("base64url");
}

/** Claims from a payload part, or undefined unless it is exactly what `encodePayload` writes. */
export function decodePayload(payload: string): PassClaims | undefined {
  const match = PAYLOAD_PATTERN.exec(Buffer.from(payload, "base64url").toString("latin1"));
  if (match === null) {
    return undefined;
  }
  const [, eventId = "", userId = "", issued = "", expires = ""] = match;
  const issuedAtMs = Number(issued);
  const expiresAtMs = Number(expires);
  if (!isTime(issuedAtMs) || !isTime(expiresAtMs) || expiresAtMs <= issuedAtMs) {
    return undefined;
  }
  return { eventId, userId, issuedAtMs, expiresAtMs };
}

/** The signature part for `signedText`. */
export function signatureOf(key: KeyObject | Uint8Array, signedText: string): string {
  return createHmac("sha256", key).update(signedText, "latin1").digest("base64url");
}

function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
