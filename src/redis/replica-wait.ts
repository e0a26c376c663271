import type { Redis } from "ioredis";
import type { ScriptObserver } from "../observe/script-observer.js";
import type { LuaLibrary } from "./function-library.js";
import { isFunctionMissing, ScriptRunner } from "./script-loader.js";
import type { ReplicaWaitConnections, WaitNode } from "./wait-connections.js";

/** How many replicas must acknowledge a write, and how long to wait for them. */
export interface ReplicaWaitPolicy {
  /** At least 1: a policy of 0 replicas is no policy (no `ReplicatedScripts` at all). */
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** A script's reply, and how many replicas had acknowledged its write when `WAIT` answered. */
export interface ReplicatedReply {
  readonly reply: unknown;
  readonly acked: number;
  /** `acked >= policy.replicas`. */
  readonly replicated: boolean;
}

/** Most scripts one pipeline carries ahead of its WAIT. */
export const MAX_BATCH = 64;

/** Ranks a connection that is down behind any that is up, however long their queues. */
const DOWN = Number.MAX_SAFE_INTEGER / 2;

interface Call<Name extends string> {
  readonly name: Name;
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  /** Sent again once already, after Redis had lost the library. */
  readonly resent: boolean;
  /** Sent again once already, to the node a MOVED reply named. */
  readonly redirected: boolean;
  readonly resolve: (reply: ReplicatedReply) => void;
  readonly reject: (error: unknown) => void;
}

/** One waiting connection, to one primary, and the calls queued on it. */
interface Lane<Name extends string> {
  readonly redis: Redis;
  readonly runner: ScriptRunner<Name>;
  /** Calls waiting for the lane's pipeline in flight to answer. */
  readonly queued: Array<Call<Name>>;
  /** The primary the connection reaches. */
  readonly node: WaitNode;
  busy: boolean;
}

/**
 * Runs a library's scripts so that their writes have reached replicas before
 * the caller answers: scripts and a `WAIT numreplicas timeout` behind them in
 * one pipeline, one round trip, on connections used for nothing else.
 *
 * Why connections of their own: WAIT waits for the replication offset of the
 * last write *of the connection that sends it*, and blocks that connection
 * meanwhile. On the shared connection it would make every other call queue
 * behind it; here only waiting writes do. A call goes to an idle connection
 * if there is one; otherwise it joins the shortest queue (of the
 * connections that are up, while any is), and a connection
 * sends everything queued behind its last pipeline at once, under one WAIT
 * (a group commit): with a replica gone, every waiting call answers within
 * two timeouts, however many arrive, instead of each queuing behind the
 * others' timeouts.
 *
 * A script that wrote nothing leaves its connection's offset where the
 * connection's previous write put it; a script whose answer rests on an
 * earlier write (an idempotent retry answering "already done") must write
 * again, even the same value, so that its WAIT covers the earlier write
 * whichever connection made it.
 *
 * On a Redis Cluster, `WAIT` counts the replicas of the node it reaches, so
 * it must reach the primary of the script's slot, on the connection that ran
 * the script: every primary has waiting connections of its own
 * (`ReplicaWaitConnections`), a call goes to those of the primary that
 * serves its first key's slot now, and a batch only ever holds calls for the
 * one primary its connection reaches. The functions library is loaded on
 * that node by the connection's own runner (again when the node lost it). A
 * script refused with MOVED did not run: it is sent once more, with a WAIT,
 * to the node the reply names, and the slot table is read again. One
 * refused with ASK (its slot is moving, and its keys are not all on the
 * node yet) fails UNAVAILABLE, for the caller to retry with the same
 * request.
 */
export class ReplicatedScripts<Name extends string> {
  readonly #connections: ReplicaWaitConnections;
  readonly #library: LuaLibrary;
  readonly #policy: ReplicaWaitPolicy;
  readonly #observer: ScriptObserver | undefined;
  /** Per waiting connection, made on its first call; forgotten with the connection. */
  readonly #lanes = new WeakMap<Redis, Lane<Name>>();

  /** `observer` (metrics, tracing) sees each script from before it is sent until its reply, without the WAIT behind it. */
  constructor(connections: ReplicaWaitConnections, library: LuaLibrary, policy: ReplicaWaitPolicy, observer?: ScriptObserver) {
    if (!Number.isSafeInteger(policy.replicas) || policy.replicas < 1) {
      throw new Error(`replicas must be a positive integer, got ${policy.replicas}`);
    }
    this.#connections = connections;
    this.#library = library;
    this.#policy = policy;
    this.#observer = observer;
  }

  get policy(): ReplicaWaitPolicy {
    return this.#policy;
  }

  /**
   * Runs a script, then WAIT. A script error is thrown (as with
   * `ScriptRunner.run`, a library lost from Redis is loaded again and the
   * script sent once more); so is a failed WAIT (a lost connection, a command
   * timeout): the write's fate is then unknown.
   */
  run(name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<ReplicatedReply> {
    return new Promise<ReplicatedReply>((resolve, reject) => {
      const lane = this.#pickLane(this.#connections.route(keys[0] ?? ""));
      this.#enqueue(lane, { name, keys, args, resent: false, redirected: false, resolve, reject });
    });
  }

  /**
   * An idle connection to the node, else the one with the shortest queue;
   * of those that are up, unless none is (a connection dropped is being
   * made again, and the others serve meanwhile).
   */
  #pickLane(node: WaitNode): Lane<Name> {
    if (node.clients.length === 0) {
      throw new Error("ReplicatedScripts needs at least one connection per primary");
    }
    let best: Lane<Name> | undefined;
    let bestRank = Infinity;
    for (const redis of node.clients) {
      let lane = this.#lanes.get(redis);
      if (lane === undefined) {
        lane = { redis, runner: new ScriptRunner<Name>(redis, this.#library, this.#observer), queued: [], node, busy: false };
        this.#lanes.set(redis, lane);
      }
      // Before its first attempt to connect has ended, a connection counts as up: its calls wait for that attempt.
      const up = node.connecting !== undefined || redis.status === "ready";
      // Up before down; then idle, then by the length of its queue.
      const rank = (up ? 0 : DOWN) + (lane.busy ? lane.queued.length + 1 : 0);
      if (rank === 0) {
        return lane;
      }
      if (rank < bestRank) {
        best = lane;
        bestRank = rank;
      }
    }
    return best as Lane<Name>;
  }

  #enqueue(lane: Lane<Name>, call: Call<Name>): void {
    lane.queued.push(call);
    if (!lane.busy) {
      void this.#drain(lane);
    }
  }

  /** Sends the lane's queued calls, a batch per round trip, until none is left. */
  async #drain(lane: Lane<Name>): Promise<void> {
    lane.busy = true;
    try {
      // A connection just opened (a cluster primary's first waiting write): its first attempt, whatever its outcome.
      if (lane.node.connecting !== undefined) {
        await lane.node.connecting;
      }
      while (lane.queued.length > 0) {
        await this.#send(lane, lane.queued.splice(0, MAX_BATCH));
      }
    } finally {
      lane.busy = false;
    }
  }

  async #send(lane: Lane<Name>, batch: Array<Call<Name>>): Promise<void> {
    let results: Array<[Error | null, unknown]> | null;
    try {
      const pipeline = lane.redis.pipeline();
      for (const call of batch) {
        lane.runner.queue(pipeline, call.name, call.keys, call.args);
      }
      pipeline.wait(this.#policy.replicas, this.#policy.timeoutMs);
      results = await pipeline.exec();
    } catch (error) {
      batch.forEach((call) => call.reject(error));
      // The connection is down: its primary may have failed over. Reading the
      // slot table now, not at the Redis monitor's next check, sends the next
      // sales to the promoted replica as soon as the cluster names it.
      this.#connections.moved();
      return;
    }
    const [waitError, acked] = results?.[batch.length] ?? [new Error("the replicated pipeline returned no results"), undefined];
    let moved = false;
    batch.forEach((call, i) => {
      const [scriptError, reply] = results?.[i] ?? [new Error("the replicated pipeline returned no results"), undefined];
      if (scriptError) {
        const movedTo = movedTarget(scriptError);
        moved ||= movedTo !== undefined;
        // The function did not exist, so nothing ran: the runner is loading it again, and the next batch waits for that.
        if (isFunctionMissing(scriptError) && !call.resent) {
          lane.queued.push({ ...call, resent: true });
        } else if (movedTo !== undefined && !call.redirected) {
          // Nothing ran either: the slot has a new primary (a failover, a resharding), so the script and a WAIT go there.
          this.#redirect(movedTo, { ...call, redirected: true });
        } else {
          call.reject(scriptError);
        }
      } else if (waitError) {
        call.reject(waitError);
      } else if (typeof acked !== "number") {
        call.reject(new Error(`WAIT answered ${String(acked)}`));
      } else {
        call.resolve({ reply, acked, replicated: acked >= this.#policy.replicas });
      }
    });
    // A WAIT that failed (its connection lost with the scripts answered, or
    // unblocked because the node became a replica) is a primary that may have
    // failed over as well.
    if (moved || waitError) {
      this.#connections.moved();
    }
  }

  #redirect(node: string, call: Call<Name>): void {
    let lane: Lane<Name>;
    try {
      lane = this.#pickLane(this.#connections.at(node));
    } catch (error) {
      call.reject(error);
      return;
    }
    this.#enqueue(lane, call);
  }
}

/** `host:port` of a `MOVED slot host:port` reply: the node that got the script does not serve its slot, so nothing ran. */
function movedTarget(error: Error): string | undefined {
  return /^MOVED \d+ (\S+)$/.exec(error.message)?.[1];
}
