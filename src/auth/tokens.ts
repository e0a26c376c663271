import { ROLES, type Role } from "./roles.js";

/** One configured bearer token and the role it grants. */
export interface TokenEntry {
  readonly role: Role;
  readonly token: string;
}

/** Shortest token accepted: 16 characters, so a token is never guessable by trying. */
export const MIN_TOKEN_LENGTH = 16;

/** Characters a token may use: visible ASCII without separators (RFC 6750 `b64token` plus a few). */
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;

/**
 * Parses `role:token` entries, separated by commas and/or line breaks (so
 * the same text works in `AUTH_TOKENS` and in an `AUTH_TOKENS_FILE`, one or
 * several per line). Blank lines and lines starting with `#` are skipped.
 * Problems name the entry by position and role, never by its token.
 */
export function parseTokens(spec: string, source: string): { entries: TokenEntry[] } | { problems: string[] } {
  const problems: string[] = [];
  const entries: TokenEntry[] = [];
  const seen = new Set<string>();
  const items = spec
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith("#"))
    .flatMap((line) => line.split(","))
    .map((item) => item.trim())
    .filter((item) => item !== "");
  items.forEach((item, i) => {
    const at = `${source} entry ${i + 1}`;
    const colon = item.indexOf(":");
    if (colon < 0) {
      problems.push(`${at} must be role:token`);
      return;
    }
    const role = item.slice(0, colon);
    const token = item.slice(colon + 1);
    if (!(ROLES as readonly string[]).includes(role)) {
      problems.push(`${at} has role "${role.slice(0, 20)}"; roles are ${ROLES.join(", ")}`);
      return;
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      problems.push(`${at} (${role}): the token must be at least ${MIN_TOKEN_LENGTH} characters`);
      return;
    }
    if (!TOKEN_CHARS.test(token)) {
      problems.push(`${at} (${role}): the token may only use A-Z a-z 0-9 . _ ~ + / = -`);
      return;
    }
    if (seen.has(token)) {
      problems.push(`${at} (${role}): the same token is listed twice; every token must be unique`);
      return;
    }
    seen.add(token);
    entries.push({ role: role as Role, token });
  });
  if (problems.length === 0 && entries.length === 0) {
    problems.push(`${source} lists no token`);
  }
  return problems.length > 0 ? { problems } : { entries };
}
