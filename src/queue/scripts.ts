import { readFileSync } from "node:fs";
import { EVENT_LOG_MAXLEN } from "../redis/event-log.js";
import { renderPrelude } from "../redis/prelude.js";
import { loadScripts, type LuaScript } from "../redis/script-loader.js";

/** Defaults and limits the queue scripts share with the TypeScript side. */
export const QueueDefaults = {
  admitRatePerSec: "10",
  maxActive: 0,
  sessionTtlSeconds: 600,
  idleTimeoutSeconds: 300,
  /** Idle users expired per script call on the request path. */
  sweepBatch: 32,
} as const;

export const QUEUE_SCRIPT_FILES = [
  "configureQueue-1.lua",
  "joinQueue-7.lua",
  "getPosition-6.lua",
  "leaveQueue-6.lua",
  "sweepQueue-6.lua",
  "readQueueStats-4.lua",
  "watchQueue-5.lua",
] as const;

type FileName = (typeof QUEUE_SCRIPT_FILES)[number];
export type QueueScriptName = FileName extends `${infer Name}-${number}.lua` ? Name : never;

const LUA_DIR = new URL("./lua/", import.meta.url);

/** Loads the queue scripts with their prelude (codes, defaults, helper library). */
export function loadQueueScripts(): ReadonlyMap<string, LuaScript> {
  const library = readFileSync(new URL("queue-lib.lua", LUA_DIR), "utf8");
  const prelude = renderPrelude(
    {
      DEFAULT_ADMIT_RATE: QueueDefaults.admitRatePerSec,
      DEFAULT_MAX_ACTIVE: String(QueueDefaults.maxActive),
      DEFAULT_SESSION_TTL: String(QueueDefaults.sessionTtlSeconds),
      DEFAULT_IDLE_TIMEOUT: String(QueueDefaults.idleTimeoutSeconds),
      SWEEP_BATCH: QueueDefaults.sweepBatch,
      LOG_MAXLEN: EVENT_LOG_MAXLEN,
    },
    library,
  );
  return loadScripts(LUA_DIR, QUEUE_SCRIPT_FILES, prelude);
}
