/**
 * Checks on raw script replies. A reply is `unknown` until a decoder has
 * checked its shape once; a mismatch is a bug (script and decoder disagree),
 * reported as `ScriptReplyError` and surfaced to callers as INTERNAL.
 */
export class ScriptReplyError extends Error {
  override readonly name = "ScriptReplyError";
  constructor(script: string, detail: string) {
    super(`unexpected reply from ${script}: ${detail}`);
  }
}

/** A fixed-length reply array, read field by field. */
export class Reply {
  readonly #script: string;
  readonly #items: readonly unknown[];

  constructor(script: string, raw: unknown, length: number) {
    if (!Array.isArray(raw) || raw.length !== length) {
      throw new ScriptReplyError(script, `expected an array of ${length}, got ${describe(raw)}`);
    }
    this.#script = script;
    this.#items = raw;
  }

  int(index: number): number {
    const value = this.#items[index];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      throw new ScriptReplyError(this.#script, `item ${index} is not an integer: ${describe(value)}`);
    }
    return value;
  }

  str(index: number): string {
    const value = this.#items[index];
    if (typeof value !== "string") {
      throw new ScriptReplyError(this.#script, `item ${index} is not a string: ${describe(value)}`);
    }
    return value;
  }

  /** A decimal carried as a string (Lua numbers lose fractions on the way out). */
  decimal(index: number): number {
    const value = Number(this.str(index));
    if (!Number.isFinite(value)) {
      throw new ScriptReplyError(this.#script, `item ${index} is not a decimal`);
    }
    return value;
  }

  array(index: number): readonly unknown[] {
    const value = this.#items[index];
    if (!Array.isArray(value)) {
      throw new ScriptReplyError(this.#script, `item ${index} is not an array: ${describe(value)}`);
    }
    return value;
  }

  fail(detail: string): never {
    throw new ScriptReplyError(this.#script, detail);
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
