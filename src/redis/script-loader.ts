import type { ChainableCommander } from "ioredis";
import type { ScriptObserver } from "../observe/script-observer.js";
import type { LuaFunction, LuaLibrary } from "./function-library.js";
import { isCluster, nodeKey, primaries, type RedisConnection } from "./redis-cluster.js";
import { isRefusedReply } from "./redis-errors.js";

type Call = (...args: Array<string | number>) => Promise<unknown>;
type Queue = (...args: Array<string | number | ((error?: Error | null) => void)>) => ChainableCommander;
type Exec = ChainableCommander["exec"];

/**
 * Runs one feature's Lua library on one ioredis client with FCALL. Built once
 * by the composition root; request handlers only call `run`.
 *
 * The library is loaded (`FUNCTION LOAD REPLACE`) on first use; calls made
 * before that load completes wait for it. When Redis answers that a function
 * does not exist (a restart without persistence, `FUNCTION FLUSH`, a
 * `FUNCTION DELETE`), the library is loaded again, once for all the calls that
 * failed alike, and each of those calls is sent once more. Every time the
 * client (re)connects, the library is loaded again before the next call.
 *
 * On a Redis Cluster a load goes to every primary of the slot table (replicas
 * get the library from their primary). A function missing on one node (a
 * node restarted empty, a flush, a node importing a slot in a resharding)
 * loads the library on every primary the client knows again and resends the
 * call, up to `CLUSTER_RESENDS` times, then fails it with
 * `FunctionUnavailableError`; and whenever a refresh of the slot
 * table shows a primary the library was not loaded on (a failover, a
 * resharding onto a new node), calls wait until it has been loaded there.
 * An `observer` (metrics, tracing) sees each call, `run` or `queue`, from
 * before it is sent until its reply (for a queued script: until the
 * pipeline's reply), a load, reload and resend included.
 */
export class ScriptRunner<Name extends string> {
  readonly #redis: RedisConnection;
  readonly #library: LuaLibrary;
  /** On a cluster: the primaries (`host:port`) the latest loads reached. */
  readonly #loadedOn = new Set<string>();
  /** Whether the latest load has completed; until it has, every call waits for `#loading`. */
  #loaded = false;
  #loading: Promise<void> | undefined;
  /** Counts loads started, so the calls that fail alike share one reload. */
  #generation = 0;
  /** Pipelines whose exec already waits for a load. */
  readonly #held = new WeakSet<ChainableCommander>();
  readonly #observer: ScriptObserver | undefined;

  constructor(redis: RedisConnection, library: LuaLibrary, observer?: ScriptObserver) {
    this.#redis = redis;
    this.#library = library;
    this.#observer = observer;
    // A new connection may reach a Redis that restarted empty or failed over:
    // load before the next call, so pipelines (which cannot resend one
    // command) never meet a missing function after a reconnect.
    let connected = redis.status === "ready";
    redis.on("ready", () => {
      if (connected) {
        this.#loaded = false;
        this.#loading = undefined;
      }
      connected = true;
    });
    if (isCluster(redis)) {
      redis.on("refresh", () => {
        if (this.#loaded && primaries(redis).some((node) => !this.#loadedOn.has(nodeKey(node)))) {
          this.#loaded = false;
          this.#loading = undefined;
        }
      });
    }
  }

  /** Runs a script; the reply is `unknown` until its decoder has checked it. */
  run(name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const fn = this.#function(name, keys);
    const observed = this.#observer?.start(this.#library.name, fn);
    const reply = this.#loaded ? this.#call(fn, keys, args) : this.#load().then(() => this.#call(fn, keys, args));
    if (observed === undefined) {
      return reply;
    }
    return reply.then(
      (value) => {
        observed.end(undefined);
        return value;
      },
      (error: unknown) => {
        observed.end(error);
        throw error;
      },
    );
  }

  /**
   * Queues a script on a pipeline or transaction built from the same client.
   * While a load is under way, the pipeline's exec waits for it. A
   * library lost after that (see above) fails this script's reply in the
   * pipeline: a pipeline cannot resend one command alone, so the caller sees
   * the error, and the runner loads the library again for the next call.
   */
  queue(pipeline: ChainableCommander, name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): ChainableCommander {
    const fn = this.#function(name, keys);
    if (!this.#loaded) {
      this.#load().catch(() => {
        // The pipeline's exec waits for this load and reports its failure.
      });
      this.#holdUntilLoaded(pipeline);
    }
    const generation = this.#generation;
    const observed = this.#observer?.start(this.#library.name, fn);
    const command = (pipeline as unknown as Record<string, Queue>)[fn.readOnly ? "fcall_ro" : "fcall"] as Queue;
    return command.call(pipeline, fn.functionName, fn.numberOfKeys, ...keys, ...args, (error) => {
      observed?.end(error ?? undefined);
      if (isFunctionMissing(error)) {
        this.#reload(generation).catch(() => {
          // The next call reports it.
        });
      }
    });
  }

  async #call(fn: LuaFunction, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const cluster = isCluster(this.#redis);
    const resends = cluster ? CLUSTER_RESENDS : 1;
    let readAgain = fn.readOnly && cluster;
    for (let sent = 0; ; sent++) {
      const generation = this.#generation;
      try {
        return await this.#send(fn, keys, args);
      } catch (error) {
        // A read sent again is harmless: one whose connection a refresh of the
        // slot table closed (an ASK-redirected read, in a resharding) is, once.
        if (readAgain && isConnectionClosed(error)) {
          readAgain = false;
          continue;
        }
        if (!isFunctionMissing(error)) {
          throw error;
        }
        if (sent === resends) {
          throw cluster ? new FunctionUnavailableError(fn.functionName, error as Error) : error;
        }
        await this.#reload(generation);
      }
    }
  }

  #send(fn: LuaFunction, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const command = (this.#redis as unknown as Record<string, Call>)[fn.readOnly ? "fcall_ro" : "fcall"] as Call;
    return command.call(this.#redis, fn.functionName, fn.numberOfKeys, ...keys, ...args);
  }

  /** The load in progress or done, else a new one. A failed load is forgotten, so the next call tries again. */
  #load(): Promise<void> {
    if (this.#loading) {
      return this.#loading;
    }
    this.#generation += 1;
    const loading = this.#loadEverywhere().then(
      () => {
        if (this.#loading === loading) this.#loaded = true;
      },
      (error: unknown) => {
        if (this.#loading === loading) this.#loading = undefined;
        // Redis refused the library itself; a lost connection, or a node that is
        // not (or no longer) a primary, stays what it is (UNAVAILABLE).
        throw isLibraryRefused(error) ? new LibraryLoadError(this.#library.name, error) : error;
      },
    );
    this.#loading = loading;
    return loading;
  }

  /** FUNCTION LOAD REPLACE on the server, or on every primary of the cluster. */
  async #loadEverywhere(): Promise<void> {
    const source = this.#library.source;
    if (!isCluster(this.#redis)) {
      await this.#redis.function("LOAD", "REPLACE", source);
      return;
    }
    const nodes = primaries(this.#redis);
    if (nodes.length === 0) {
      throw new Error("Cluster has no known primary");
    }
    this.#loadedOn.clear();
    await Promise.all(
      nodes.map(async (node) => {
        await node.function("LOAD", "REPLACE", source);
        this.#loadedOn.add(nodeKey(node));
      }),
    );
  }

  /**
   * Loads again, unless a load started after the failed call was sent: then
   * that one serves. Until the new load completes, calls wait for it again.
   */
  #reload(generation: number): Promise<void> {
    if (this.#generation === generation) {
      this.#loading = undefined;
      this.#loaded = false;
    }
    return this.#load();
  }

  #holdUntilLoaded(pipeline: ChainableCommander): void {
    if (this.#held.has(pipeline)) {
      return;
    }
    this.#held.add(pipeline);
    const exec = pipeline.exec;
    const held: Exec = (callback) => {
      const results = this.#load().then(() => exec.call(pipeline));
      if (callback) {
        results.then((value) => callback(null, value), (error: Error) => callback(error));
      }
      return results;
    };
    pipeline.exec = held;
  }

  #function(name: Name, keys: readonly string[]): LuaFunction {
    const fn = this.#library.functions.get(name);
    if (!fn) {
      throw new Error(`unknown script ${name}`);
    }
    if (keys.length !== fn.numberOfKeys) {
      throw new Error(`script ${name} takes ${fn.numberOfKeys} keys, got ${keys.length}`);
    }
    return fn;
  }
}

/**
 * How many times a call that met a missing function on a cluster is sent
 * again, each after loading the library on every primary the client knows.
 * In a resharding the node importing a slot answers ASK-redirected calls
 * before the slot table lists it: the client knows it between the ASK and
 * its next refresh of the slot table, which drops it (and a load may miss
 * it). The library reaches it for good once it owns the slot.
 */
const CLUSTER_RESENDS = 2;

/**
 * A function still missing on the cluster node that answered after the
 * library was loaded again: a node not yet in the slot table (importing a
 * slot) that the loads did not reach. FCALL of a missing function runs
 * nothing, so the call can be retried; callers see UNAVAILABLE (NOT_APPLIED).
 */
export class FunctionUnavailableError extends Error {
  override readonly name = "FunctionUnavailableError";
  constructor(functionName: string, cause: Error) {
    super(`function ${functionName} is not loaded yet on the cluster node serving its slot: ${cause.message}`, { cause });
  }
}

/**
 * Redis refused `FUNCTION LOAD`: a library that does not compile, a server
 * older than 7.0 (unknown command), or a user whose ACL forbids it.
 */
export class LibraryLoadError extends Error {
  override readonly name = "LibraryLoadError";
  constructor(library: string, cause: Error) {
    super(`Redis refused to load the Lua library ${library} (Redis >= 7.0 or Valkey is required): ${cause.message}`, { cause });
  }
}

/** A reply refusing FUNCTION LOAD for the library itself, not for the state of the node that got it. */
function isLibraryRefused(error: unknown): error is Error {
  return (
    error instanceof Error &&
    error.name === "ReplyError" &&
    !isRefusedReply(error.message)
  );
}

/** ioredis's failure of a command whose connection closed before the reply. */
function isConnectionClosed(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Connection is closed");
}

/**
 * Redis's reply to FCALL of a function no library defines. Redis gives no
 * code but the message (as for NOSCRIPT, which ioredis also recognises by it).
 */
export function isFunctionMissing(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("ERR Function not found");
}
