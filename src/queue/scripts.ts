import { readFileSync } from "node:fs";
import { OpeningPhase } from "../redis/outcomes.js";
import { renderPrelude } from "../redis/prelude.js";
import { buildLibrary, type LuaLibrary } from "../redis/function-library.js";
import { TICKET_BUCKETS } from "./keys.js";

/** Defaults and limits the queue scripts share with the TypeScript side. */
export const QueueDefaults = {
  admitRatePerSec: "10",
  maxActive: 0,
  sessionTtlSeconds: 600,
  idleTimeoutSeconds: 300,
  /** Ticket buckets per event (see `TICKET_BUCKETS`). */
  ticketBuckets: TICKET_BUCKETS,
  /** Pause between two admission steps of one instance. */
  admitIntervalMs: 250,
  /** Users admitted per script call; a bigger step is split into several calls. */
  admitBatch: 1000,
  /** Lapsed sessions ended (and idle users met at the head of the line) per admission call. */
  sessionBatch: 500,
  /**
   * Swaps of the opening shuffle per admission call (about 10 µs of Redis
   * time each); a bigger pre-queue is shuffled over several calls in a row.
   */
  shuffleBatch: 500,
  /**
   * Idle waiters expired per sweep step, however many it reads: an expiry
   * costs Redis ≈ 10 µs, so a step stays at 1–1.5 ms of Redis even when a
   * crowd goes idle at once (see BENCHMARKS.md, *Idle sweep steps and deep
   * lines*).
   */
  sweepMaxExpired: 100,
  /** Time constant of the measured admission rate (an exponentially weighted average). */
  rateTimeConstantMs: 10_000,
  /**
   * Longest gap between two admission steps that counts towards the measured
   * rate; a longer one means the line was empty or paused, which must not
   * decay it. Must exceed the admission interval.
   */
  rateMaxGapMs: 1_000,
} as const;

export const QUEUE_SCRIPT_FILES = [
  "configureQueue-2.lua",
  "joinQueue-6.lua",
  "getPosition-5.lua",
  "leaveQueue-6.lua",
  "sweepQueue-5.lua",
  "readQueueStats-5.lua",
  "watchTick-5.lua",
  "admitQueue-7.lua",
] as const;

type FileName = (typeof QUEUE_SCRIPT_FILES)[number];
export type QueueScriptName = FileName extends `${infer Name}-${number}.lua` ? Name : never;

const LUA_DIR = new URL("./lua/", import.meta.url);

/** The queue scripts as one Functions library, after their prelude (codes, defaults, helper library). */
export function loadQueueScripts(): LuaLibrary {
  const library = readFileSync(new URL("queue-lib.lua", LUA_DIR), "utf8");
  const prelude = renderPrelude(
    {
      DEFAULT_ADMIT_RATE: QueueDefaults.admitRatePerSec,
      DEFAULT_MAX_ACTIVE: String(QueueDefaults.maxActive),
      DEFAULT_SESSION_TTL: String(QueueDefaults.sessionTtlSeconds),
      DEFAULT_IDLE_TIMEOUT: String(QueueDefaults.idleTimeoutSeconds),
      TICKET_BUCKETS: QueueDefaults.ticketBuckets,
      RATE_TAU_MS: QueueDefaults.rateTimeConstantMs,
      RATE_MAX_GAP_MS: QueueDefaults.rateMaxGapMs,
      ...Object.fromEntries(Object.entries(OpeningPhase).map(([name, value]) => [`OPENING_${name}`, value])),
    },
    library,
  );
  return buildLibrary("boxoffice_queue", LUA_DIR, QUEUE_SCRIPT_FILES, prelude);
}
