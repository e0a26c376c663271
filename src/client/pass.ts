import {
  PassKeyring,
  parsePassKeys as parseKeySpec,
  verifyPass as verifyWith,
  type PassKey,
  type PassKeyMap,
  type PassVerification,
  type VerifyPassOptions,
} from "../pass/pass.js";

/**
 * Offline verification of admission passes, for backends that must check a
 * user was admitted before serving them (checkout, payment). Node only: it
 * uses `node:crypto`, which is why it is not part of the browser-safe client
 * entry. Verifying needs the same keys the service signs with — the
 * `PASS_KEYS` value, `kid:secret[,kid:secret…]` — and nothing else: no
 * network, no Redis. Passes come from the service: this entry verifies and
 * offers no way to sign.
 *
 * ```ts
 * import { parsePassKeys, verifyPass } from "@boxoffice/client/pass";
 * const parsed = parsePassKeys(process.env.PASS_KEYS ?? "");
 * if ("problems" in parsed) throw new Error(parsed.problems.join("; "));
 * const result = verifyPass(token, parsed.keys, { eventId, userId });
 * if (result.kind !== "valid") deny(result.kind);
 * ```
 */
export {
  MAX_PASS_LENGTH,
  MIN_SECRET_BYTES,
  PASS_VERSION,
  PassUsageError,
  type PassClaims,
  type PassKey,
  type PassKeyMap,
  type PassVerification,
  type VerifyPassOptions,
} from "../pass/pass.js";

declare const verificationKeysBrand: unique symbol;

/**
 * Keys ready to verify with (secrets decoded once, kept inside). Made by
 * `parsePassKeys` or `verificationKeys`; only `verifyPass` uses them.
 */
export interface PassVerificationKeys {
  /** Key ids in the configured order. Safe to log. */
  readonly kids: readonly string[];
  readonly [verificationKeysBrand]: true;
}

/**
 * Reads a key spec in `PASS_KEYS` form, listing every problem at once
 * (problems never quote a secret). Parse once, at start.
 */
export function parsePassKeys(spec: string): { readonly keys: PassVerificationKeys } | { readonly problems: readonly string[] } {
  const parsed = parseKeySpec(spec);
  return "keys" in parsed ? { keys: asVerificationKeys(parsed.keys) } : parsed;
}

/** Keys given in code; throws `PassUsageError` listing every unusable one. */
export function verificationKeys(keys: readonly PassKey[]): PassVerificationKeys {
  return asVerificationKeys(new PassKeyring(keys));
}

/**
 * Checks a pass offline. Denials are results (`kind` other than "valid"),
 * never exceptions; see `PassVerification` for the order of the checks. A
 * `PassKeyMap` (`{ [kid]: secret }`) also works, decoded on every call, and
 * throws `PassUsageError` when the token's key is unusable.
 */
export function verifyPass(token: string, keys: PassVerificationKeys | PassKeyMap, options: VerifyPassOptions = {}): PassVerification {
  return verifyWith(token, keys as unknown as PassKeyring | PassKeyMap, options);
}

function asVerificationKeys(ring: PassKeyring): PassVerificationKeys {
  return ring as unknown as PassVerificationKeys;
}
