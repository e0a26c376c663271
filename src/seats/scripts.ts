import { readFileSync } from "node:fs";
import { StoredHoldState, StoredSeatStatus } from "../redis/outcomes.js";
import { renderPrelude } from "../redis/prelude.js";
import { buildLibrary, type LuaLibrary } from "../redis/function-library.js";

/** Limits the seat scripts share with the TypeScript side. */
export const SeatScriptDefaults = {
  /** Expired holds swept per script call on the request path. */
  sweepBatch: 32,
  /** Most items one `redis.call` unpacks (even, so HSET pairs stay whole). */
  chunk: 1000,
} as const;

export const SEAT_SCRIPT_FILES = [
  "loadSeatMap-9.lua",
  "holdSeats-11.lua",
  "extendHold-8.lua",
  "releaseHold-8.lua",
  "confirmHold-10.lua",
  "getHold-8.lua",
  "getAvailability-9.lua",
  "sweepHolds-8.lua",
] as const;

type FileName = (typeof SEAT_SCRIPT_FILES)[number];
export type SeatScriptName = FileName extends `${infer Name}-${number}.lua` ? Name : never;

const LUA_DIR = new URL("./lua/", import.meta.url);
/** Helper libraries, in order, after the prelude's constants. */
const LIBRARIES = ["seat-lib.lua", "seat-pick.lua"] as const;

function prefixed(prefix: string, table: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [`${prefix}${name}`, value]));
}

/** The seat scripts as one Functions library, after their prelude (codes, states, limits, helper libraries). */
export function loadSeatScripts(): LuaLibrary {
  const library = LIBRARIES.map((file) => readFileSync(new URL(file, LUA_DIR), "utf8")).join("\n");
  const prelude = renderPrelude(
    {
      ...prefixed("H_", StoredHoldState),
      ...prefixed("S_", StoredSeatStatus),
      SWEEP_BATCH: SeatScriptDefaults.sweepBatch,
      CHUNK: SeatScriptDefaults.chunk,
    },
    library,
  );
  return buildLibrary("boxoffice_seats", LUA_DIR, SEAT_SCRIPT_FILES, prelude);
}
