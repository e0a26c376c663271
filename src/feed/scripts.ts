import { readFileSync } from "node:fs";
import { FeedOutcome, StoredBackoff } from "../redis/outcomes.js";
import { renderPrelude } from "../redis/prelude.js";
import { buildLibrary, type LuaLibrary } from "../redis/function-library.js";

/** Limits the feed scripts share with the TypeScript side. */
export const FeedLimits = {
  /** Most entries one delivery step hands to a subscriber (one SubscribeResponse). */
  deliverBatch: 500,
  /** Dead letters one replay step moves. */
  replayBatch: 500,
  /** Most entries counted when Redis cannot tell a group's lag itself. */
  lagScan: 10_000,
  /** Fields a dead letter carries before the original entry's: dl_id, dl_reason, dl_count, dl_consumer, dl_at. */
  deadLetterFields: 5,
} as const;

export const FEED_SCRIPT_FILES = [
  "openFeedGroup-4.lua",
  "deliverChanges-5.lua",
  "ackChanges-4.lua",
  "readFeedStream-2.lua",
  "readFeedGroup-4.lua",
  "listDeadLetters-2.lua",
  "replayDeadLetters-4.lua",
] as const;

type FileName = (typeof FEED_SCRIPT_FILES)[number];
export type FeedScriptName = FileName extends `${infer Name}-${number}.lua` ? Name : never;

const LUA_DIR = new URL("./lua/", import.meta.url);

function prefixed(prefix: string, table: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [`${prefix}${name}`, value]));
}

/** The feed scripts as one Functions library, after their prelude (codes, backoff kinds, limits, helper library). */
export function loadFeedScripts(): LuaLibrary {
  const library = readFileSync(new URL("feed-lib.lua", LUA_DIR), "utf8");
  const prelude = renderPrelude(
    {
      ...FeedOutcome,
      ...prefixed("BACKOFF_", StoredBackoff),
      LAG_SCAN: FeedLimits.lagScan,
      DL_FIELDS: FeedLimits.deadLetterFields,
    },
    library,
  );
  return buildLibrary("boxoffice_feed", LUA_DIR, FEED_SCRIPT_FILES, prelude);
}
