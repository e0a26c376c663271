import { timingSafeEqual } from "node:crypto";
import { PassKeyring, PassUsageError, secretBytes } from "./keyring.js";
import { decodePayload, signatureOf, splitPass, type PassClaims } from "./pass-format.js";

/**
 * Admission passes: signed by the admitter, checked offline by anyone holding
 * the shared keys (HoldSeats on every call, other backends through the client
 * package). Token and key formats are described in `pass-format.ts` and
 * `keyring.ts`.
 */

export { MAX_PASS_LENGTH, PASS_VERSION, type PassClaims } from "./pass-format.js";
export { MIN_SECRET_BYTES, PassKeyring, PassUsageError, parsePassKeys, type PassKey } from "./keyring.js";

/**
 * What a token turned out to be. Every denial is a result, never an exception.
 * Claims are present only once the signature checked out, so they can be
 * trusted (and logged) in every kind that carries them.
 *
 * Checks run in this order and the first failure is reported: shape
 * (`malformed`), key id (`unknown_key`), signature (`bad_signature`), payload
 * (`malformed`; only a key holder could produce one), event, user, expiry.
 */
export type PassVerification =
  | { readonly kind: "valid"; readonly kid: string; readonly claims: PassClaims }
  | { readonly kind: "malformed" }
  | { readonly kind: "unknown_key"; readonly kid: string }
  | { readonly kind: "bad_signature" }
  | { readonly kind: "wrong_event"; readonly kid: string; readonly claims: PassClaims }
  | { readonly kind: "wrong_user"; readonly kid: string; readonly claims: PassClaims }
  | { readonly kind: "expired"; readonly kid: string; readonly claims: PassClaims };

/** Keys by id, secrets as in a key spec (raw text or `base64:…`) or as bytes. */
export type PassKeyMap = Readonly<Record<string, string | Uint8Array>>;

export interface VerifyPassOptions {
  /** The clock, epoch ms; defaults to `Date.now()`. A pass is expired from `expiresAtMs` on. */
  readonly nowMs?: number;
  /** When given, a pass for another event is `wrong_event`. */
  readonly eventId?: string;
  /** When given, a pass for another user is `wrong_user`. */
  readonly userId?: string;
}

const MALFORMED: PassVerification = Object.freeze({ kind: "malformed" });
const BAD_SIGNATURE: PassVerification = Object.freeze({ kind: "bad_signature" });

/**
 * Checks a pass offline. Work is bounded before any crypto (length and shape),
 * the signature is compared in constant time, and the payload is only parsed
 * once authenticated. `issuedAtMs` is not compared with the clock, so small
 * clock differences between instances never refuse a fresh pass.
 *
 * A `PassKeyring` is the fast path; a `PassKeyMap` is read on every call and
 * throws `PassUsageError` if the token's key is unusable (e.g. too short).
 */
export function verifyPass(token: string, keys: PassKeyring | PassKeyMap, options: VerifyPassOptions = {}): PassVerification {
  const nowMs = options.nowMs ?? Date.now();
  if (!Number.isFinite(nowMs)) {
    throw new PassUsageError(["nowMs must be a finite number"]);
  }
  const parts = splitPass(token);
  if (parts === undefined) {
    return MALFORMED;
  }
  const { kid } = parts;
  const expected = keys instanceof PassKeyring ? keys.signatureFor(kid, parts.signedText) : signatureFromMap(keys, kid, parts.signedText);
  if (expected === undefined) {
    return { kind: "unknown_key", kid };
  }
  if (!sameText(expected, parts.signature)) {
    return BAD_SIGNATURE;
  }
  const claims = decodePayload(parts.payload);
  if (claims === undefined) {
    return MALFORMED;
  }
  if (options.eventId !== undefined && claims.eventId !== options.eventId) {
    return { kind: "wrong_event", kid, claims };
  }
  if (options.userId !== undefined && claims.userId !== options.userId) {
    return { kind: "wrong_user", kid, claims };
  }
  if (!(nowMs < claims.expiresAtMs)) {
    return { kind: "expired", kid, claims };
  }
  return { kind: "valid", kid, claims };
}

function signatureFromMap(keys: PassKeyMap, kid: string, signedText: string): string | undefined {
  if (!Object.hasOwn(keys, kid)) {
    return undefined;
  }
  const checked = secretBytes(keys[kid] ?? "");
  if ("problem" in checked) {
    throw new PassUsageError([`key id "${kid}": ${checked.problem}`]);
  }
  return signatureOf(checked.bytes, signedText);
}

/** Constant-time equality of two ASCII strings (signatures, so always 43 characters). */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, "latin1");
  const right = Buffer.from(b, "latin1");
  return left.length === right.length && timingSafeEqual(left, right);
}
