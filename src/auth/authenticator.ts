import crypto, { createHash, timingSafeEqual } from "node:crypto";
import type { Role } from "./roles.js";
import type { TokenEntry } from "./tokens.js";

/** Who is calling, as far as the credentials tell. */
export type Identity =
  | { readonly kind: "missing" }
  | { readonly kind: "invalid" }
  | { readonly kind: "authenticated"; readonly role: Role };

const MISSING: Identity = Object.freeze({ kind: "missing" });
const INVALID: Identity = Object.freeze({ kind: "invalid" });

/** Longest `authorization` value looked at; anything longer is invalid without hashing it. */
const MAX_HEADER_LENGTH = 4096;

/**
 * Checks `authorization: Bearer <token>` against the configured tokens in
 * constant time: the presented token is hashed (SHA-256), and its digest is
 * compared with `timingSafeEqual` against the digest of *every* configured
 * token, with no early exit. Fixed-length digests hide the token's length,
 * and visiting every entry hides which one matched.
 */
export class Authenticator {
  private readonly digests: ReadonlyArray<{ readonly digest: Buffer; readonly role: Role }>;
  private readonly results: ReadonlyMap<Role, Identity>;

  constructor(tokens: readonly TokenEntry[]) {
    if (tokens.length === 0) {
      throw new Error("an authenticator needs at least one token");
    }
    this.digests = tokens.map((t) => ({ digest: sha256(t.token), role: t.role }));
    this.results = new Map(tokens.map((t) => [t.role, Object.freeze({ kind: "authenticated", role: t.role } as const)]));
  }

  /** Reads the value of an `authorization` header (null when absent). */
  authenticate(authorization: string | null): Identity {
    if (authorization === null || authorization === "") {
      return MISSING;
    }
    if (authorization.length > MAX_HEADER_LENGTH) {
      return INVALID;
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) {
      return INVALID;
    }
    const presented = sha256(match[1]!);
    let role: Role | undefined;
    for (const entry of this.digests) {
      // No early exit: every entry is compared, whichever matched.
      if (timingSafeEqual(presented, entry.digest)) {
        role = entry.role;
      }
    }
    return role === undefined ? INVALID : this.results.get(role)!;
  }
}

/** One-shot `crypto.hash` where Node has it (≥ 20.12, a third cheaper per call), a Hash object otherwise. */
const sha256: (text: string) => Buffer =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "buffer")
    : (text) => createHash("sha256").update(text, "utf8").digest();
