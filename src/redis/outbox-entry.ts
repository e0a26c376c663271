/**
 * One entry of an event's outbox stream as XRANGE returns it: its id, its
 * change type (`change-types.ts`) and its fields. Read once per entry and
 * handed to every consumer; each consumer picks the types it follows and
 * skips the rest, so a type added later never disturbs one written earlier.
 */
export class OutboxEntry {
  readonly id: string;
  /** The change type as written; consumers compare it with `ChangeType` values. */
  readonly type: string;
  /** `[field, value, …]` as the stream holds them, `type` included. */
  readonly flat: readonly string[];

  constructor(id: string, flat: readonly string[]) {
    this.id = id;
    this.flat = flat;
    this.type = fieldOf(flat, "type") ?? "";
  }

  /** A field's value; undefined when the entry has none. */
  field(name: string): string | undefined {
    return fieldOf(this.flat, name);
  }
}

/** A field of a flat `[field, value, …]` list (entries have a dozen fields at most). */
function fieldOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === name) {
      return flat[i + 1];
    }
  }
  return undefined;
}

/** The stream id before every real one: where a reader of an empty stream stands. */
export const STREAM_START = "0-0";

/** Orders two stream ids (`<ms>-<seq>`): negative when `a` came first, 0 when equal. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = splitId(a);
  const [bMs, bSeq] = splitId(b);
  return aMs - bMs || aSeq - bSeq;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf("-");
  if (dash < 0) {
    return [Number(id), 0];
  }
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}
