/**
 * Benchmark knobs, read once from the environment. Defaults keep a full
 * `npm run bench` around eight minutes on an idle 2-core machine (the
 * on-sale scenario takes about 1½ of them).
 */
export interface BenchSettings {
  /** Measured seconds of each unary run. */
  readonly seconds: number;
  /** Runs per unary target, interleaved; the median is reported. */
  readonly repeat: number;
  /** Unmeasured seconds before each unary run (JIT, connection set-up). */
  readonly warmupSeconds: number;
  /** HTTP/2 connections of the load generator. */
  readonly connections: number;
  /** Concurrent streams per connection. */
  readonly streams: number;
  /** Fraction of the measured saturation rate for the paced run. */
  readonly loadFactor: number;
  /** Open WatchPosition streams in the fan-out test. */
  readonly watchers: number;
  /** HTTP/2 connections carrying those streams. */
  readonly watchSessions: number;
  /** Leaves measured per fan-out scenario. */
  readonly fanoutRounds: number;
  /** WATCH_INTERVAL_MS of the service used for the low-interval fan-out scenarios. */
  readonly fastWatchIntervalMs: number;
  /** Which parts to run. */
  readonly unary: boolean;
  readonly fresh: boolean;
  readonly fanout: boolean;
  /** The seat scenario: a 100,000-seat map, then HoldSeats, ConfirmHold and the baseline through a lean client. */
  readonly seats: boolean;
  /** Fan-out over the Connect port as well. */
  readonly fanoutConnect: boolean;
  /** The on-sale scenario (`onsale.ts`, variants `onsale-rush` and `onsale-opening`): users join one event and watch their place while the admitter lets them in. */
  readonly onsale: boolean;
  /** Users who join the on-sale event, each followed by a WatchPosition stream. */
  readonly onsaleUsers: number;
  /** The event's admit_rate_per_sec. */
  readonly onsaleRate: number;
  /** The event's admit_burst (default: half the rate, two admitter ticks' worth). */
  readonly onsaleBurst: number;
  /** HTTP/2 connections of the on-sale load process. */
  readonly onsaleSessions: number;
  /** The change feed scenario (`feed.ts`): a backlog drained by one consumer group, then changes followed live. */
  readonly feed: boolean;
  /** Entries of the large backlog (a quarter of it is drained first, to compare Redis work per entry). */
  readonly feedEntries: number;
  /** Consumers of the group, and the max_in_flight of each. */
  readonly feedConsumers: number;
  readonly feedMaxInFlight: number;
  /** Joins per second over gRPC, and for how long, while the group follows live. */
  readonly feedLiveRate: number;
  readonly feedLiveSeconds: number;
  /** FEED_POLL_MS of the second live run (the first runs at the service's default). */
  readonly feedFastPollMs: number;
  /** Most seconds the whole run may spend waiting for, or re-measuring after, other processes' CPU use. */
  readonly quietBudgetSeconds: number;
  /** Row keys to run (e.g. `peer,join-grpc`, `seats-explicit`, `onsale-opening`); all when unset. */
  readonly only: ReadonlySet<string> | undefined;
  /** Write V8 CPU profiles of the main service process and of the peer into `service/` and `peer/` here. */
  readonly cpuProfileDir: string | undefined;
}

export class BenchSettingsError extends Error {
  override readonly name = "BenchSettingsError";
}

export function loadBenchSettings(env: Readonly<Record<string, string | undefined>>): BenchSettings {
  const problems: string[] = [];
  const num = (name: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      problems.push(`${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (raw === "1" || raw === "true") return true;
    if (raw === "0" || raw === "false") return false;
    problems.push(`${name} must be 0 or 1, got "${raw}"`);
    return fallback;
  };
  const onsaleRate = num("BENCH_ONSALE_RATE", 2_000, 1, 100_000);
  const settings: BenchSettings = {
    seconds: num("BENCH_SECONDS", 5, 1, 600),
    repeat: num("BENCH_REPEAT", 3, 1, 20),
    warmupSeconds: num("BENCH_WARMUP_SECONDS", 1, 0, 60),
    connections: num("BENCH_CONNECTIONS", 4, 1, 256),
    streams: num("BENCH_STREAMS", 32, 1, 1000),
    loadFactor: num("BENCH_LOAD_FACTOR", 0.8, 0.05, 1, false),
    watchers: num("BENCH_WATCHERS", 10_000, 1, 200_000),
    watchSessions: num("BENCH_WATCH_SESSIONS", 8, 1, 256),
    fanoutRounds: num("BENCH_FANOUT_ROUNDS", 5, 1, 100),
    fastWatchIntervalMs: num("BENCH_FAST_WATCH_INTERVAL_MS", 20, 20, 10_000),
    unary: flag("BENCH_UNARY", true),
    fresh: flag("BENCH_FRESH", true),
    fanout: flag("BENCH_FANOUT", true),
    seats: flag("BENCH_SEATS", true),
    fanoutConnect: flag("BENCH_FANOUT_CONNECT", true),
    onsale: flag("BENCH_ONSALE", true),
    onsaleUsers: num("BENCH_ONSALE_USERS", 50_000, 1, 1_000_000),
    onsaleRate,
    onsaleBurst: num("BENCH_ONSALE_BURST", Math.ceil(onsaleRate / 2), 1, 1_000_000),
    onsaleSessions: num("BENCH_ONSALE_SESSIONS", 8, 1, 256),
    feed: flag("BENCH_FEED", true),
    feedEntries: num("BENCH_FEED_ENTRIES", 200_000, 100, 10_000_000),
    feedConsumers: num("BENCH_FEED_CONSUMERS", 4, 1, 64),
    feedMaxInFlight: num("BENCH_FEED_MAX_IN_FLIGHT", 500, 1, 10_000),
    feedLiveRate: num("BENCH_FEED_LIVE_RATE", 2_000, 1, 100_000),
    feedLiveSeconds: num("BENCH_FEED_LIVE_SECONDS", 10, 1, 600),
    feedFastPollMs: num("BENCH_FEED_FAST_POLL_MS", 20, 10, 60_000),
    quietBudgetSeconds: num("BENCH_QUIET_BUDGET_SECONDS", 60, 0, 3600),
    only: env["BENCH_ONLY"] ? new Set(env["BENCH_ONLY"].split(",").map((key) => key.trim())) : undefined,
    cpuProfileDir: env["BENCH_CPU_PROFILE_DIR"] || undefined,
  };
  if (problems.length > 0) {
    throw new BenchSettingsError(`invalid benchmark settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return Object.freeze(settings);
}
