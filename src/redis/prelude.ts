import { readFileSync } from "node:fs";
import { ChangeType } from "./change-types.js";
import { Outcome, StoredQueueState, StoredTicketState } from "./outcomes.js";

/** Constants every script may use, rendered as Lua `local`s. */
export interface PreludeConstants {
  readonly [name: string]: number | string;
}

function renderTable(prefix: string, table: Readonly<Record<string, number>>): string[] {
  return Object.entries(table).map(([name, value]) => `local ${prefix}${name} = ${value}`);
}

function renderStrings(prefix: string, table: Readonly<Record<string, string>>): string[] {
  return Object.entries(table).map(([name, value]) => `local ${prefix}${name} = ${JSON.stringify(value)}`);
}

function renderConstant(name: string, value: number | string): string {
  const literal = typeof value === "number" ? String(value) : JSON.stringify(value);
  return `local ${name} = ${literal}`;
}

/**
 * Renders the Lua prelude: outcome codes, stored states, the outbox's change
 * types and any extra constants, followed by the shared helper library. It
 * opens a feature's Functions library (see `function-library.ts`), defined
 * once per load, so every script refers to `OK`, `QUEUE_CLOSED`, `T_WAITING`,
 * `CT_QUEUE_JOINED`… by name and never by number or by a hand-spelled string.
 * Lua 5.1 allows 200 locals here, and each function at most 60 upvalues (the
 * constants and helpers it uses).
 */
export function renderPrelude(constants: PreludeConstants, library: string): string {
  const lines = [
    "-- prelude (generated from src/redis/outcomes.ts and change-types.ts; do not edit in .lua files)",
    ...renderTable("", Outcome),
    ...renderTable("T_", StoredTicketState),
    ...renderTable("Q_", StoredQueueState),
    ...renderStrings("CT_", ChangeType),
    ...Object.entries(constants).map(([name, value]) => renderConstant(name, value)),
    // Helpers every library shares (`now_ms`, outbox appends and trimming).
    readFileSync(new URL("./lua/common.lua", import.meta.url), "utf8"),
    library,
    "-- end of prelude",
  ];
  return lines.join("\n") + "\n";
}
