/**
 * Offline verification of admission passes, for backends that must check a
 * user was admitted before serving them (checkout, payment). Node only: it
 * uses `node:crypto`, which is why it is not part of the browser-safe client
 * entry. Verifying needs the same keys the service signs with — the
 * `PASS_KEYS` value, `kid:secret[,kid:secret…]` — and nothing else: no
 * network, no Redis. Signing is not offered here; passes come from the
 * service.
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
  PassKeyring,
  PassUsageError,
  parsePassKeys,
  verifyPass,
  type PassClaims,
  type PassKey,
  type PassKeyMap,
  type PassVerification,
  type VerifyPassOptions,
} from "../pass/pass.js";
