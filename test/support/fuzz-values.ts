import { create, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same run, so a
 * failure found once is replayed with FUZZ_SEED.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Ids that pass validation, few enough that calls meet each other's events, users and seats. */
const VALID_IDS = ["ev-1", "ev-2", "u-1", "u-2", "A", "1", "A-1-1", "A-1-2", "g", "c", "floor"];
const PUNCTUATION = ["{}", "{ev-1}", "*", "?", "a*", "[a]", "\\", "ev 1", "ev\t1", "../x", "%00", "$0", '"', "'", ";", "ev-1}", "{"];
const UNICODE = ["é", "💥", "\u202e", "\ufeff", "\ud800", "\udfff", "Ω".repeat(64), "ｅｖ", "\u0085", "\u2028"];

/** A string from the hostile catalogue: valid ids, punctuation, NUL and control characters, unicode, huge ones. */
export function hostileString(rng: Rng, big = true): string {
  switch (rng.int(big ? 13 : 12)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return rng.pick(VALID_IDS);
    case 4:
      return "";
    case 5:
      return rng.pick(PUNCTUATION);
    case 6:
      return rng.pick(["\u0000", "ev-1\u0000", "\u0000ev-1", "ev\u0000-1"]);
    case 7:
      return Array.from({ length: 1 + rng.int(8) }, () => String.fromCharCode(rng.int(32))).join("");
    case 8:
      return rng.pick(UNICODE);
    case 9:
      return "x".repeat(big ? rng.pick([64, 65, 1_000, 100_000]) : rng.pick([64, 65]));
    case 10:
      return Array.from({ length: 1 + rng.int(80) }, () => String.fromCharCode(32 + rng.int(95))).join("");
    case 11:
      return `e-${rng.int(1e9)}`;
    default:
      return rng.pick(["1e400", "NaN", "-1", "0", "null", "true", "QUEUE_STATE_OPEN"]);
  }
}

const INT32 = [0, 1, -1, 2, 7, 10, 100, 1_000_001, 2 ** 31 - 1, -(2 ** 31)];
const UINT32 = [0, 1, 2, 100, 2 ** 32 - 1];
const INT64 = [0n, 1n, -1n, 1_000n, 2n ** 63n - 1n, -(2n ** 63n), 253402300800n, -62135596801n];
const UINT64 = [0n, 1n, 2n ** 64n - 1n];
const DOUBLES = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e308, 5e-324, 0.5, -3.5, 1e9, 3];

function scalarValue(rng: Rng, scalar: ScalarType, big = true): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return hostileString(rng, big);
    case ScalarType.BYTES:
      return rng.bytes(rng.int(40));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.pick(DOUBLES);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return rng.pick(UINT32);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return rng.pick(INT64);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return rng.pick(UINT64);
    default:
      return rng.chance(0.3) ? rng.int(5) : rng.pick(INT32);
  }
}

function enumValue(rng: Rng, field: DescField & { enum: NonNullable<DescField["enum"]> }): number {
  return rng.chance(0.7) ? rng.pick(field.enum.values).number : rng.pick([99, -1, 2 ** 31 - 1, 7]);
}

type Init = Record<string, unknown>;

/** A random init shape of `desc`: any field set or not, oneofs empty or not, lists empty to long. */
export function randomInit(rng: Rng, desc: DescMessage, depth = 0): Init {
  const init: Init = {};
  for (const member of desc.members) {
    if (rng.chance(0.3)) continue;
    if (member.kind === "oneof") {
      const field = rng.pick(member.fields);
      init[member.localName] = { case: field.localName, value: fieldValue(rng, field, depth) };
    } else {
      init[member.localName] = fieldValue(rng, member, depth);
    }
  }
  return init;
}

function fieldValue(rng: Rng, field: DescField, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(rng, field.scalar, depth === 0);
    case "enum":
      return enumValue(rng, field);
    case "message":
      return depth > 3 ? {} : randomInit(rng, field.message, depth + 1);
    case "list": {
      // Long lists only at the top and of small items: the point is the count, not the memory.
      const long = depth === 0 && field.listKind !== "message" && rng.chance(0.05);
      const n = long ? rng.pick([1_001, 3_000]) : rng.int(4);
      const item = (): unknown =>
        field.listKind === "scalar"
          ? scalarValue(rng, field.scalar, false)
          : field.listKind === "enum"
            ? rng.pick(field.enum.values).number
            : depth > 3
              ? {}
              : randomInit(rng, field.message, depth + 1);
      return Array.from({ length: n }, item);
    }
    case "map": {
      const map: Record<string, unknown> = {};
      for (let i = rng.int(3); i > 0; i--) map[hostileString(rng, false)] = field.mapKind === "scalar" ? scalarValue(rng, field.scalar, false) : {};
      return map;
    }
  }
}

/**
 * A binary request body: a random message encoded, then sometimes damaged
 * (cut short, bytes flipped, garbage appended, a string field holding
 * invalid UTF-8, a length that runs past the end), or plain random bytes.
 */
export function randomBinary(rng: Rng, desc: DescMessage): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = toBinary(desc, create(desc, randomInit(rng, desc) as never));
  } catch {
    bytes = rng.bytes(rng.int(64));
  }
  switch (rng.int(10)) {
    case 0:
      return bytes.subarray(0, rng.int(bytes.byteLength + 1));
    case 1: {
      const copy = Uint8Array.from(bytes);
      for (let i = 0; i < 3 && copy.byteLength > 0; i++) copy[rng.int(copy.byteLength)] = rng.int(256);
      return copy;
    }
    case 2:
      return concat(bytes, rng.bytes(1 + rng.int(16)));
    case 3:
      return rng.bytes(rng.int(200));
    case 4: {
      // Field 1 as a length-delimited string of invalid UTF-8 (or a length past the end).
      const bad = rng.chance(0.5) ? Uint8Array.of(0x0a, 3, 0xff, 0xfe, 0xc0) : Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f, 0x61);
      return concat(bad, bytes);
    }
    case 5:
      // An unknown field, a group start without its end, or a varint that never ends.
      return concat(bytes, rng.pick([Uint8Array.of(0xb8, 0x3e, 0x01), Uint8Array.of(0x0b), Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)]));
    default:
      return bytes;
  }
}

/** JSON text with a value as written, unquoted (`1e400`, `NaN`, `-0`). */
class Raw {
  constructor(readonly text: string) {}
}

const RAW_NUMBERS = ["1e400", "-1e400", "NaN", '"NaN"', '"Infinity"', "-0", "1.5", '"12"', "9007199254740993", "-2147483649", "2147483648", '"0x10"', '" 1"', "1e2", "-1"];
const TIMESTAMPS = ["2030-02-30T00:00:00Z", "garbage", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "1970-01-01T00:00:00.1234567891Z", "2030-01-01T00:00:00+25:00", "", "2030-01-01T24:00:00Z"];
const WRONG_TYPES = [new Raw("null"), new Raw("[]"), new Raw("{}"), new Raw("true"), new Raw("0"), new Raw('"x"')];

function jsonValue(rng: Rng, field: DescField, depth: number): unknown {
  if (rng.chance(0.08)) return rng.pick(WRONG_TYPES);
  switch (field.fieldKind) {
    case "scalar":
      if (field.scalar === ScalarType.STRING) return hostileString(rng, depth === 0);
      if (field.scalar === ScalarType.BOOL) return rng.pick([true, false, new Raw('"true"'), new Raw("1")]);
      if (field.scalar === ScalarType.BYTES) return rng.pick(["", "AAEC", "!!!", "aGVsbG8="]);
      return rng.chance(0.5) ? new Raw(rng.pick(RAW_NUMBERS)) : scalarValue(rng, ScalarType.INT32);
    case "enum":
      return rng.chance(0.6) ? rng.pick(field.enum.values).name : rng.pick(["NOPE", `${field.enum.values[0]?.name ?? "X"}_X`, 99, -1, ""]);
    case "message":
      if (field.message.typeName === "google.protobuf.Timestamp") return rng.pick(TIMESTAMPS);
      if (field.message.typeName === "google.protobuf.Duration") return rng.pick(["1s", "-1s", "1.5s", "x", "315576000001s"]);
      return depth > 3 ? {} : randomJsonObject(rng, field.message, depth + 1);
    case "list": {
      const n = depth === 0 && field.listKind !== "message" && rng.chance(0.05) ? 1_001 : rng.int(4);
      return Array.from({ length: n }, () =>
        field.listKind === "scalar" ? (field.scalar === ScalarType.STRING ? hostileString(rng, false) : rng.pick(INT32)) : field.listKind === "enum" ? rng.pick(field.enum.values).name : depth > 3 ? {} : randomJsonObject(rng, field.message, depth + 1),
      );
    }
    case "map":
      return { [hostileString(rng, false)]: rng.pick(["x", 1, true]) };
  }
}

function randomJsonObject(rng: Rng, desc: DescMessage, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (rng.chance(0.4)) continue;
    // A oneof member is set alone, or with its siblings (then the JSON sets two cases of one oneof).
    if (field.oneof !== undefined && rng.chance(0.7) && field.oneof.fields.some((f) => f.jsonName in out)) continue;
    out[rng.chance(0.9) ? field.jsonName : rng.pick([field.name, field.jsonName.toUpperCase(), "unknownField"])] = jsonValue(rng, field, depth);
  }
  return out;
}

/** A JSON request body: a random object with hostile values, or text that is not one object at all. */
export function randomJson(rng: Rng, desc: DescMessage): Uint8Array {
  if (rng.chance(0.1)) {
    const text = rng.pick(["", "null", "[]", "{", '{"a":', "{}{}", '"x"', "1", `${"[".repeat(10_000)}${"]".repeat(10_000)}`, '{"eventId":"ev-1","eventId":"ev-2"}', "\u0000"]);
    return rng.chance(0.5) ? new TextEncoder().encode(text) : rng.bytes(rng.int(64));
  }
  return new TextEncoder().encode(stringify(randomJsonObject(rng, desc, 0)));
}

function stringify(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(stringify).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${stringify(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
