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
  /**
   * The fan-out's cadence comparison: rounds of `cadenceLeaves` Leaves
   * `cadenceGapMs` apart, on a service with the cadence off and one with it
   * at its defaults; 0 rounds skips it.
   */
  readonly cadenceRounds: number;
  readonly cadenceLeaves: number;
  readonly cadenceGapMs: number;
  /** Unwatched users in line ahead of the watchers of the cadence comparison (after the leaving heads). */
  readonly cadenceAhead: number;
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
  /** The open-loop Join scenario (`paced.ts`): saturation, then fixed arrival rates at shares of it. */
  readonly paced: boolean;
  /** Shares of the saturated rate to pace at, ascending (0–1). */
  readonly pacedLevels: readonly number[];
  /** Measured seconds per paced level (after `warmupSeconds`), and of the saturation run. */
  readonly pacedSeconds: number;
  /** HTTP/2 connections of the open-loop generator, and streams per connection of its saturation run. */
  readonly pacedSessions: number;
  readonly pacedStreams: number;
  /** The large fan-out (`fanout-large`): many more watchers, spread over several client processes. */
  readonly fanoutLarge: boolean;
  readonly largeWatchers: number;
  readonly largeClients: number;
  /** Streams each of those processes opens at a time (the rest as earlier ones get their first message). */
  readonly largeOpening: number;
  /** REDIS_COMMAND_TIMEOUT_MS of the large fan-out's service; its default when unset. */
  readonly largeRedisTimeoutMs: number | undefined;
  /** WATCH_INTERVAL_MS of the large fan-out's service; its default when unset. */
  readonly largeWatchIntervalMs: number | undefined;
  /** The one-million scenario (`million.ts`): Join, GetPosition, fan-out, memory and the idle sweep with a very long line. */
  readonly million: boolean;
  /** Users waiting in its large line, and in the small line it is compared with. */
  readonly millionUsers: number;
  readonly millionSmall: number;
  /** WatchPosition streams at the back of each line in its fan-out. */
  readonly millionWatchers: number;
  /** Joins sent together (one pipelined round trip) while the lines are filled. */
  readonly millionFillBatch: number;
  /** The scale-out scenarios (opt-in): one service process against two, one redis-server against a cluster, a primary killed. */
  readonly instances: boolean;
  readonly cluster: boolean;
  readonly failover: boolean;
  /** Service processes of the `cluster` scenario (its three load generators are spread over them). */
  readonly clusterServices: number;
  /** ConfirmHold calls per second of the `failover` scenario, for how long before the kill, and for how long after it. */
  readonly failoverRate: number;
  readonly failoverBeforeSeconds: number;
  readonly failoverAfterSeconds: number;
  /** REDIS_WAIT_REPLICAS of the `failover` scenario's service (1: sales wait for their shard's replica; 0: they do not), and its REDIS_WAIT_TIMEOUT_MS. */
  readonly failoverWaitReplicas: number;
  readonly failoverWaitTimeoutMs: number;
  /** Seconds after the promotion at which the killed node is started again (it rejoins as the promoted one's replica). */
  readonly failoverRestartSeconds: number;
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

export function loadBenchSettings(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = []): BenchSettings {
  const problems: string[] = [];
  const chosen = chosenScenarios(env, argv, problems);
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
    // Named scenarios override the part flags.
    const scenario = SCENARIOS.find((s) => s.flag === name);
    if (chosen && scenario) return chosen.has(scenario.name);
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
    cadenceRounds: num("BENCH_CADENCE_ROUNDS", 3, 0, 100),
    cadenceLeaves: num("BENCH_CADENCE_LEAVES", 20, 2, 1_000),
    cadenceGapMs: num("BENCH_CADENCE_GAP_MS", 100, 0, 10_000),
    cadenceAhead: num("BENCH_CADENCE_AHEAD", 30_000, 0, 1_000_000),
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
    // Follows BENCH_FRESH unless set, so the older "all parts off but one" commands stay as they were.
    paced: flag("BENCH_PACED", flag("BENCH_FRESH", true)),
    pacedLevels: levels(env["BENCH_PACED_LEVELS"] ?? "25,50,80", problems),
    pacedSeconds: num("BENCH_PACED_SECONDS", 10, 1, 600),
    pacedSessions: num("BENCH_PACED_SESSIONS", 4, 1, 256),
    pacedStreams: num("BENCH_PACED_STREAMS", 32, 1, 1000),
    fanoutLarge: flag("BENCH_FANOUT_LARGE", false),
    largeWatchers: num("BENCH_LARGE_WATCHERS", 50_000, 1, 500_000),
    largeClients: num("BENCH_LARGE_CLIENTS", 4, 1, 32),
    largeOpening: num("BENCH_LARGE_OPENING", 250, 1, 500_000),
    largeRedisTimeoutMs: env["BENCH_LARGE_REDIS_TIMEOUT_MS"] ? num("BENCH_LARGE_REDIS_TIMEOUT_MS", 1000, 50, 60_000) : undefined,
    largeWatchIntervalMs: env["BENCH_LARGE_WATCH_INTERVAL_MS"] ? num("BENCH_LARGE_WATCH_INTERVAL_MS", 250, 20, 10_000) : undefined,
    million: flag("BENCH_MILLION", false),
    millionUsers: num("BENCH_MILLION_USERS", 1_000_000, 1, 10_000_000),
    millionSmall: num("BENCH_MILLION_SMALL", 10_000, 1, 10_000_000),
    millionWatchers: num("BENCH_MILLION_WATCHERS", 10_000, 1, 100_000),
    millionFillBatch: num("BENCH_MILLION_FILL_BATCH", 10_000, 1, 100_000),
    instances: flag("BENCH_INSTANCES", false),
    cluster: flag("BENCH_CLUSTER", false),
    failover: flag("BENCH_FAILOVER", false),
    clusterServices: num("BENCH_CLUSTER_SERVICES", 1, 1, 8),
    failoverRate: num("BENCH_FAILOVER_RATE", 200, 1, 5_000),
    failoverBeforeSeconds: num("BENCH_FAILOVER_BEFORE_SECONDS", 5, 1, 120),
    failoverAfterSeconds: num("BENCH_FAILOVER_AFTER_SECONDS", 10, 2, 120),
    // One replica per shard in the local cluster: 1 is all a shard can acknowledge.
    failoverWaitReplicas: num("BENCH_FAILOVER_WAIT_REPLICAS", 1, 0, 1),
    failoverWaitTimeoutMs: num("BENCH_FAILOVER_WAIT_TIMEOUT_MS", 500, 1, 60_000),
    failoverRestartSeconds: num("BENCH_FAILOVER_RESTART_SECONDS", 5, 0, 120),
    quietBudgetSeconds: num("BENCH_QUIET_BUDGET_SECONDS", 60, 0, 3600),
    only: rowKeys(env["BENCH_ONLY"]),
    cpuProfileDir: env["BENCH_CPU_PROFILE_DIR"] || undefined,
  };
  if (problems.length > 0) {
    throw new BenchSettingsError(`invalid benchmark settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return Object.freeze(settings);
}

/** A part of the benchmark that `--scenario <name>` (or `BENCH_SCENARIO`, or a name in `BENCH_ONLY`) runs alone. */
export interface Scenario {
  readonly name: string;
  /** The environment flag that switches it without naming it. */
  readonly flag: string;
  /** Whether a plain `npm run bench` runs it. */
  readonly byDefault: boolean;
  readonly about: string;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: "unary", flag: "BENCH_UNARY", byDefault: true, about: "h2load: Health/Check, Join (one user), GetPosition on both ports and the peer, h2load-paced Joins" },
  { name: "fresh", flag: "BENCH_FRESH", byDefault: true, about: "Joins of new users, closed loop, gRPC and Connect ports and the peer" },
  { name: "paced", flag: "BENCH_PACED", byDefault: true, about: "open-loop Joins of new users at 25/50/80% of the saturation measured in the same run" },
  { name: "seats", flag: "BENCH_SEATS", byDefault: true, about: "HoldSeats and ConfirmHold on a 100,000-seat map" },
  {
    name: "fanout",
    flag: "BENCH_FANOUT",
    byDefault: true,
    about: "10,000 WatchPosition streams updated by one Leave, cadence off (BENCH_FANOUT_CONNECT: also the Connect port); then paced Leaves with the cadence off and on",
  },
  { name: "fanout-large", flag: "BENCH_FANOUT_LARGE", byDefault: false, about: "50,000 WatchPosition streams from several client processes, updated by one Leave" },
  { name: "onsale", flag: "BENCH_ONSALE", byDefault: true, about: "50,000 users join and watch while the admitter lets them in" },
  { name: "feed", flag: "BENCH_FEED", byDefault: true, about: "change feed: a backlog drained by a consumer group, then followed live" },
  { name: "million", flag: "BENCH_MILLION", byDefault: false, about: "1,000,000 waiting: Join, GetPosition, fan-out, Redis memory, the idle sweep expiring them all" },
  { name: "instances", flag: "BENCH_INSTANCES", byDefault: false, about: "Join, HoldSeats, ConfirmHold: one service process against two on one redis-server" },
  { name: "cluster", flag: "BENCH_CLUSTER", byDefault: false, about: "the same on one redis-server against a local cluster (3 events on 3 shards), and one hot event" },
  { name: "failover", flag: "BENCH_FAILOVER", byDefault: false, about: "steady ConfirmHolds while the event's primary is killed and its replica promoted" },
];

/** `--scenario a,b` / `--scenario=a`, else `BENCH_SCENARIO`, plus scenario names in `BENCH_ONLY`; undefined when none is named. */
function chosenScenarios(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
  problems: string[],
): ReadonlySet<string> | undefined {
  const named: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--scenario") named.push(...list(argv[++i] ?? ""));
    else if (arg.startsWith("--scenario=")) named.push(...list(arg.slice("--scenario=".length)));
    else problems.push(`unknown argument "${arg}" (try --scenario list)`);
  }
  if (named.length === 0) named.push(...list(env["BENCH_SCENARIO"] ?? ""));
  named.push(...list(env["BENCH_ONLY"] ?? "").filter(isScenario));
  for (const name of named) {
    if (!isScenario(name)) problems.push(`unknown scenario "${name}" (known: ${SCENARIOS.map((s) => s.name).join(", ")})`);
  }
  return named.length > 0 ? new Set(named) : undefined;
}

/** The entries of `BENCH_ONLY` that are row keys, not scenario names; undefined when none. */
function rowKeys(raw: string | undefined): ReadonlySet<string> | undefined {
  const keys = list(raw ?? "").filter((key) => !isScenario(key));
  return keys.length > 0 ? new Set(keys) : undefined;
}

function levels(raw: string, problems: string[]): number[] {
  const values = list(raw).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0 || v > 100)) {
    problems.push(`BENCH_PACED_LEVELS must be percentages from 1 to 100, e.g. "25,50,80", got "${raw}"`);
    return [0.25, 0.5, 0.8];
  }
  return values.map((v) => v / 100).sort((a, b) => a - b);
}

const isScenario = (name: string): boolean => SCENARIOS.some((s) => s.name === name);
const list = (raw: string): string[] =>
  raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "" && part !== "list");
