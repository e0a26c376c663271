import { fromJson, fromJsonString, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { invalidRequest, malformedRequest, type FieldViolation } from "../../rpc/errors.js";

/** Walking stops after this many problems: the error shows a few anyway. */
const maxViolations = 50;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Checks a JSON request body the way protobuf-es's `fromJson` should but,
 * as connect-node calls it, does not: with unknown fields ignored (for
 * forward compatibility) protobuf-es also drops unknown *enum names*, so
 * `"state": "QUEUE_STATE_PAUSD"` silently means the default; and it accepts
 * impossible timestamps (`2030-02-30T00:00:00Z` becomes 2 March).
 *
 * Returns undefined for a body connect may decode, or the INVALID_ARGUMENT
 * to answer: a BadRequest naming each offending field (proto names,
 * `seats.seat_ids[2]`), or for a body that is not JSON at all, ErrorInfo only.
 * Unknown keys stay ignored, as connect ignores them.
 */
export function checkJsonRequest(schema: DescMessage, body: Uint8Array): ConnectError | undefined {
  let text: string;
  let json: unknown;
  try {
    text = utf8.decode(body);
    json = JSON.parse(text);
  } catch (err) {
    return malformedRequest(`request body is not valid UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(json)) {
    return malformedRequest(`request body must be a JSON object (${schema.typeName})`);
  }
  const violations: FieldViolation[] = [];
  walkMessage(schema, json, "", violations);
  if (violations.length > 0) {
    return invalidRequest(violations);
  }
  try {
    // What the walk does not look at (duplicate keys, a oneof set twice) protobuf-es still catches.
    fromJsonString(schema, text, { ignoreUnknownFields: true });
  } catch (err) {
    return malformedRequest(`request body is not a valid ${schema.typeName}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return undefined;
}

type JsonObject = { [key: string]: JsonValue };

function walkMessage(schema: DescMessage, json: JsonObject, prefix: string, out: FieldViolation[]): void {
  for (const [key, value] of Object.entries(json)) {
    if (out.length >= maxViolations) return;
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (field === undefined || value === null) continue;
    const path = prefix + field.name;
    switch (field.fieldKind) {
      case "scalar":
      case "enum":
        checkValue(schema, field, key, value, path, out);
        break;
      case "message":
        checkMessageValue(schema, field, field.message, key, value, path, out);
        break;
      case "list":
        if (!Array.isArray(value)) {
          out.push({ field: path, description: "must be a JSON array" });
          break;
        }
        value.forEach((item, i) => {
          if (out.length >= maxViolations) return;
          if (field.listKind === "message") {
            checkMessageValue(schema, field, field.message, key, item, `${path}[${i}]`, out, (v) => [v]);
          } else {
            checkValue(schema, field, key, [item], `${path}[${i}]`, out, item);
          }
        });
        break;
      case "map":
        if (!isObject(value)) {
          out.push({ field: path, description: "must be a JSON object" });
          break;
        }
        for (const [k, item] of Object.entries(value)) {
          if (out.length >= maxViolations) return;
          const itemPath = `${path}[${JSON.stringify(k)}]`;
          if (field.mapKind === "message") {
            checkMessageValue(schema, field, field.message, key, item, itemPath, out, (v) => ({ [k]: v }));
          } else {
            checkValue(schema, field, key, { [k]: item }, itemPath, out, item);
          }
        }
        break;
    }
  }
}

/** Lets protobuf-es judge one field on its own, with unknown enum names refused. */
function checkValue(schema: DescMessage, field: DescField, key: string, value: JsonValue, path: string, out: FieldViolation[], item: JsonValue = value): void {
  try {
    fromJson(schema, { [key]: value }, { ignoreUnknownFields: false });
  } catch (err) {
    out.push({ field: path, description: describe(field, err, item) });
  }
}

function checkMessageValue(
  schema: DescMessage,
  field: DescField,
  message: DescMessage,
  key: string,
  value: JsonValue,
  path: string,
  out: FieldViolation[],
  wrap: (v: JsonValue) => JsonValue = (v) => v,
): void {
  if (value === null) return;
  if (message.typeName === "google.protobuf.Timestamp") {
    const problem = timestampProblem(value);
    if (problem !== undefined) {
      out.push({ field: path, description: problem });
      return;
    }
  }
  if (message.typeName.startsWith("google.protobuf.")) {
    checkValue(schema, field, key, wrap(value), path, out);
    return;
  }
  if (!isObject(value)) {
    out.push({ field: path, description: `must be a JSON object (${message.typeName})` });
    return;
  }
  walkMessage(message, value, `${path}.`, out);
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Why a JSON timestamp is not a real RFC 3339 instant, or undefined when it is (ranges are left to protobuf-es). */
export function timestampProblem(value: JsonValue): string | undefined {
  if (typeof value !== "string") return "must be an RFC 3339 timestamp string";
  const m = rfc3339.exec(value);
  if (m === null) return "must be an RFC 3339 timestamp such as 2030-01-31T18:00:00Z";
  const [year, month, day, hour, minute, second, offHour = 0, offMinute = 0] = m.slice(1).map((part) => Number(part ?? 0));
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth(year!, month!)) return `${value} is not a calendar date`;
  if (hour! > 23 || minute! > 59 || second! > 59 || offHour > 23 || offMinute > 59) return `${value} is not a time of day`;
  return undefined;
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : monthDays[month - 1]!;
}

function describe(field: DescField, err: unknown, value: JsonValue): string {
  const enumDesc = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum") ? field.enum : undefined;
  if (enumDesc !== undefined) {
    const shown = JSON.stringify(value).slice(0, 40);
    return `${shown} is not a ${enumDesc.name}: one of ${enumDesc.values.map((v) => v.name).join(", ")}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^cannot decode [^:]* from JSON: /, "");
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
