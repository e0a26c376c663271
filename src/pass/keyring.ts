import { createSecretKey, type KeyObject } from "node:crypto";
import { KID_PATTERN, PASS_VERSION, claimsProblem, encodePayload, signatureOf, type PassClaims } from "./pass-format.js";

/**
 * Pass keys: a list of `kid:secret` entries, e.g. from `PASS_KEYS`:
 *
 *     2024-06:base64:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=,2024-01:an-older-raw-secret-of-32-bytes-or-more
 *
 * The FIRST key signs; every listed key verifies. Rotate by putting the new key
 * first and keeping the old one second until the last pass it signed has
 * expired (one `session_ttl`), then removing it. Deploy verifiers with the new
 * key listed (second) before any signer puts it first.
 *
 * - `kid`: 1–32 of `[A-Za-z0-9_-]`, unique; it is public (every token names it).
 * - `secret`: at least 32 bytes, either raw text (its UTF-8 bytes; it cannot
 *   contain `,` or begin or end with whitespace) or `base64:` followed by
 *   standard or URL-safe base64 (padding optional) for arbitrary bytes.
 * - Whitespace around entries is ignored.
 */

export const MIN_SECRET_BYTES = 32;

/** One key given in code; `secret` text follows the same rules as in a key spec. */
export interface PassKey {
  readonly kid: string;
  readonly secret: string | Uint8Array;
}

/**
 * A programmer or configuration error in how passes are signed or verified
 * (bad claims handed to `sign`, an unusable key). Expected denials of a token
 * are results of `verifyPass`, never this. Messages never contain secrets.
 */
export class PassUsageError extends Error {
  override readonly name = "PassUsageError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? (problems[0] ?? "") : `invalid pass keys:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** The keys passes are signed (first) and verified (all) with. Secrets stay inside. */
export class PassKeyring {
  /** Key ids in the configured order; the first one signs. Safe to log. */
  readonly kids: readonly string[];
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #signingKid: string;
  readonly #signingKey: KeyObject;

  /** Throws `PassUsageError` listing every problem; use `parsePassKeys` for configuration text. */
  constructor(keys: readonly PassKey[]) {
    const check = keyChecker();
    const problems = keys.flatMap((key, index) => check({ kid: key.kid, secret: key.secret, label: `key ${index + 1}` }) ?? []);
    if (problems.length > 0) {
      throw new PassUsageError(problems);
    }
    const ring = new Map<string, KeyObject>();
    for (const { kid, secret } of keys) {
      const checked = secretBytes(secret);
      if ("bytes" in checked) {
        ring.set(kid, createSecretKey(checked.bytes));
      }
    }
    const [first] = ring;
    if (first === undefined) {
      throw new PassUsageError(["no keys"]);
    }
    this.#keys = ring;
    this.kids = Object.freeze([...ring.keys()]);
    [this.#signingKid, this.#signingKey] = first;
  }

  /** The id of the key `sign` uses. */
  get signingKid(): string {
    return this.#signingKid;
  }

  /**
   * The pass for these claims under the signing key. Deterministic: equal
   * claims give the same token. Throws `PassUsageError` for claims no pass
   * can carry (ids outside the identifier rule, times that are not
   * non-negative safe integers, `expiresAtMs <= issuedAtMs`).
   */
  sign(claims: PassClaims): string {
    const problem = claimsProblem(claims);
    if (problem !== undefined) {
      throw new PassUsageError([problem]);
    }
    const signedText = `${PASS_VERSION}.${this.#signingKid}.${encodePayload(claims)}`;
    return `${signedText}.${signatureOf(this.#signingKey, signedText)}`;
  }

  /** The signature `kid` puts on `signedText`, or undefined for a kid not in the ring. */
  signatureFor(kid: string, signedText: string): string | undefined {
    const key = this.#keys.get(kid);
    return key === undefined ? undefined : signatureOf(key, signedText);
  }
}

/**
 * Parses a key spec (format above), listing every problem at once. Problems
 * name entries by position and valid key ids, never secrets; prefix them with
 * the variable's name when reporting configuration.
 */
export function parsePassKeys(spec: string): { readonly keys: PassKeyring } | { readonly problems: readonly string[] } {
  if (spec.trim() === "") {
    return { problems: ["no keys: expected kid:secret[,kid:secret...]"] };
  }
  const problems: string[] = [];
  const entries: LabelledKey[] = [];
  const check = keyChecker();
  spec.split(",").forEach((raw, index) => {
    const label = `entry ${index + 1}`;
    const entry = raw.trim();
    const colon = entry.indexOf(":");
    const key = { label, kid: entry.slice(0, colon), secret: entry.slice(colon + 1) };
    const problem =
      entry === "" ? `${label} is empty` : colon < 0 ? `${label} has no "kid:" before its secret` : check(key);
    if (problem === undefined) {
      entries.push(key);
    } else {
      problems.push(problem);
    }
  });
  return problems.length > 0 ? { problems } : { keys: new PassKeyring(entries) };
}

/** Key bytes for a secret (spec rules), or the reason it is unusable. The reason never quotes the secret. */
export function secretBytes(secret: string | Uint8Array): { readonly bytes: Uint8Array } | { readonly problem: string } {
  let bytes: Uint8Array;
  if (secret instanceof Uint8Array) {
    bytes = secret;
  } else if (typeof secret !== "string") {
    return { problem: "secret must be text or bytes" };
  } else if (secret.startsWith("base64:")) {
    const text = secret.slice("base64:".length);
    if (!isBase64(text)) {
      return { problem: 'secret after "base64:" is not valid base64' };
    }
    bytes = Buffer.from(text, text.includes("-") || text.includes("_") ? "base64url" : "base64");
  } else {
    bytes = Buffer.from(secret, "utf8");
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    return { problem: `secret is ${bytes.length} bytes, at least ${MIN_SECRET_BYTES} are required` };
  }
  return { bytes };
}

interface LabelledKey extends PassKey {
  readonly label: string;
}

/** Checks keys one at a time, in order, remembering ids already seen. */
function keyChecker(): (key: LabelledKey) => string | undefined {
  const labels = new Map<string, string>();
  return ({ label, kid, secret }) => {
    // An invalid kid is never quoted: it may be the start of a secret whose kid was forgotten.
    if (typeof kid !== "string" || !KID_PATTERN.test(kid)) {
      return `${label}: key id must be 1-32 of [A-Za-z0-9_-]`;
    }
    if (kid === "base64") {
      return `${label}: key id "base64" looks like a secret without its key id; write <kid>:base64:<secret>`;
    }
    const earlier = labels.get(kid);
    if (earlier !== undefined) {
      return `${label}: key id "${kid}" is already used by ${earlier}`;
    }
    labels.set(kid, label);
    const checked = secretBytes(secret);
    return "problem" in checked ? `${label} (key id "${kid}"): ${checked.problem}` : undefined;
  };
}

/** Standard or URL-safe base64, not mixed, padding optional but then correct. */
function isBase64(text: string): boolean {
  const body = text.replace(/={1,2}$/, "");
  const padded = body.length !== text.length;
  if (!/^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)$/.test(body) || body.length % 4 === 1) {
    return false;
  }
  return !padded || text.length % 4 === 0;
}
