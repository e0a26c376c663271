import { FeedOutcome, Outcome } from "../redis/outcomes.js";
import { Reply, ScriptReplyError } from "../redis/reply.js";
import { FeedLimits } from "./scripts.js";
import type { DeadLetterPageResult, DeadLetterView, DeliverResult, FeedEntry, FeedGroupStats, OpenGroupResult } from "./types.js";

/** One decoder per feed script: the `unknown` reply becomes a discriminated union. */

/** A stream entry as Redis returns it: `[id, [field, value, …]]`. */
function streamEntry(script: string, raw: unknown): { id: string; flat: readonly string[] } {
  if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== "string" || !Array.isArray(raw[1])) {
    throw new ScriptReplyError(script, "malformed stream entry");
  }
  return { id: raw[0], flat: strings(script, raw[1]) };
}

function strings(script: string, raw: readonly unknown[]): readonly string[] {
  if (!raw.every((item): item is string => typeof item === "string") || raw.length % 2 !== 0) {
    throw new ScriptReplyError(script, "entry fields are not string pairs");
  }
  return raw;
}

function fieldMap(flat: readonly string[], from = 0): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = from; i + 1 < flat.length; i += 2) {
    fields.set(flat[i] as string, flat[i + 1] as string);
  }
  return fields;
}

export function decodeOpenGroup(raw: unknown): OpenGroupResult {
  const reply = new Reply("openFeedGroup", raw, 1);
  const code = reply.int(0);
  switch (code) {
    case FeedOutcome.GROUP_CREATED:
      return { kind: "created" };
    case FeedOutcome.GROUP_EXISTS:
      return { kind: "exists" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

function deliveredEntry(raw: unknown): FeedEntry {
  const item = new Reply("deliverChanges", raw, 4);
  const from = item.str(2);
  return {
    id: item.str(0),
    deliveryCount: item.int(1),
    replayedFromId: from === "" ? undefined : from,
    fields: fieldMap(strings("deliverChanges", item.array(3))),
  };
}

export function decodeDeliver(raw: unknown): DeliverResult {
  const reply = new Reply("deliverChanges", raw, 4);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return { kind: "delivered", entries: reply.array(1).map(deliveredEntry), inFlight: reply.int(2), more: reply.int(3) === 1 };
    case FeedOutcome.GROUP_NOT_FOUND:
      return { kind: "group_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export function decodeAck(raw: unknown): number {
  const reply = new Reply("ackChanges", raw, 2);
  const code = reply.int(0);
  return code === Outcome.OK ? reply.int(1) : reply.fail(`outcome ${code}`);
}

export interface StreamReadout {
  readonly length: number;
  readonly firstId: string | undefined;
  readonly lastId: string | undefined;
  readonly groups: readonly string[];
}

export function decodeStreamStats(raw: unknown): StreamReadout {
  const reply = new Reply("readFeedStream", raw, 5);
  const code = reply.int(0);
  if (code !== Outcome.OK) {
    return reply.fail(`outcome ${code}`);
  }
  const groups = reply.array(4);
  if (!groups.every((g): g is string => typeof g === "string")) {
    return reply.fail("group names are not strings");
  }
  return { length: reply.int(1), firstId: reply.str(2) || undefined, lastId: reply.str(3) || undefined, groups };
}

export function decodeGroupStats(raw: unknown, group: string): FeedGroupStats | undefined {
  const reply = new Reply("readFeedGroup", raw, 10);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK: {
      const age = reply.int(3);
      return {
        group,
        consumers: reply.int(1),
        pending: reply.int(2),
        oldestPendingAgeMs: age < 0 ? undefined : age,
        lag: reply.int(4),
        lastDeliveredId: reply.str(5),
        deliveredTotal: reply.int(6),
        ackedTotal: reply.int(7),
        deadLetters: reply.int(8),
        trimmedWhilePending: reply.int(9),
      };
    }
    case FeedOutcome.GROUP_NOT_FOUND:
      return undefined;
    default:
      return reply.fail(`outcome ${code}`);
  }
}

const DEAD_LETTER_FIELDS = ["dl_id", "dl_reason", "dl_count", "dl_consumer", "dl_at"] as const;

function deadLetter(raw: unknown): DeadLetterView {
  const { id, flat } = streamEntry("listDeadLetters", raw);
  const head = FeedLimits.deadLetterFields * 2;
  DEAD_LETTER_FIELDS.forEach((name, i) => {
    if (flat[i * 2] !== name) {
      throw new ScriptReplyError("listDeadLetters", `dead letter ${id} lacks ${name}`);
    }
  });
  const count = Number(flat[5]);
  const at = Number(flat[9]);
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(at) || flat.length < head) {
    throw new ScriptReplyError("listDeadLetters", `dead letter ${id} is malformed`);
  }
  return {
    id,
    originalId: flat[1] as string,
    reason: flat[3] as string,
    deliveryCount: count,
    lastConsumer: flat[7] as string,
    deadAtMs: at,
    fields: fieldMap(flat, head),
  };
}

export function decodeDeadLetters(raw: unknown, pageSize: number): DeadLetterPageResult {
  const reply = new Reply("listDeadLetters", raw, 3);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK: {
      const all = reply.array(2).map(deadLetter);
      const page = all.slice(0, pageSize);
      const more = all.length > pageSize;
      return { kind: "page", deadLetters: page, nextAfter: more ? page[page.length - 1]?.id : undefined, total: reply.int(1) };
    }
    case FeedOutcome.GROUP_NOT_FOUND:
      return { kind: "group_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}

export type ReplayStep = { readonly kind: "replayed"; readonly replayed: number; readonly remaining: number } | { readonly kind: "group_not_found" };

export function decodeReplay(raw: unknown): ReplayStep {
  const reply = new Reply("replayDeadLetters", raw, 3);
  const code = reply.int(0);
  switch (code) {
    case Outcome.OK:
      return { kind: "replayed", replayed: reply.int(1), remaining: reply.int(2) };
    case FeedOutcome.GROUP_NOT_FOUND:
      return { kind: "group_not_found" };
    default:
      return reply.fail(`outcome ${code}`);
  }
}
