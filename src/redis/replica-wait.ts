import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { LuaLibrary } from "./function-library.js";
import { createRedisClient } from "./redis-client.js";
import { isFunctionMissing, ScriptRunner } from "./script-loader.js";

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

/**
 * Connections kept for waiting writes. `WAIT` blocks its connection until it
 * answers, so the calls behind one WAIT queue behind it; with a replica gone,
 * each waits out the whole timeout. Several connections let that many waits
 * run at once.
 */
export const REPLICA_WAIT_CONNECTIONS = 4;

/**
 * Connections of their own for `ReplicatedScripts`, not yet connected: each
 * command may take the wait timeout on top of the usual command timeout.
 */
export function createReplicaWaitClients(
  url: string,
  { commandTimeoutMs, waitTimeoutMs, logger }: { commandTimeoutMs: number; waitTimeoutMs: number; logger: Logger },
): Redis[] {
  return Array.from({ length: REPLICA_WAIT_CONNECTIONS }, () =>
    createRedisClient(url, { commandTimeoutMs: commandTimeoutMs + waitTimeoutMs, logger }),
  );
}

/** Most scripts one pipeline carries ahead of its WAIT. */
export const MAX_BATCH = 64;

interface Call<Name extends string> {
  readonly name: Name;
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  /** Sent again once already, after Redis had lost the library. */
  readonly resent: boolean;
  readonly resolve: (reply: ReplicatedReply) => void;
  readonly reject: (error: unknown) => void;
}

interface Lane<Name extends string> {
  readonly redis: Redis;
  readonly runner: ScriptRunner<Name>;
  /** Calls waiting for the lane's pipeline in flight to answer. */
  readonly queued: Array<Call<Name>>;
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
 * if there is one; otherwise it joins the shortest queue, and a connection
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
 */
export class ReplicatedScripts<Name extends string> {
  readonly #lanes: Array<Lane<Name>>;
  readonly #policy: ReplicaWaitPolicy;

  constructor(clients: readonly Redis[], library: LuaLibrary, policy: ReplicaWaitPolicy) {
    if (clients.length === 0) {
      throw new Error("ReplicatedScripts needs at least one connection");
    }
    if (!Number.isSafeInteger(policy.replicas) || policy.replicas < 1) {
      throw new Error(`replicas must be a positive integer, got ${policy.replicas}`);
    }
    this.#lanes = clients.map((redis) => ({ redis, runner: new ScriptRunner<Name>(redis, library), queued: [], busy: false }));
    this.#policy = policy;
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
      this.#enqueue(this.#pickLane(), { name, keys, args, resent: false, resolve, reject });
    });
  }

  #pickLane(): Lane<Name> {
    let best = this.#lanes[0]!;
    for (const lane of this.#lanes) {
      if (!lane.busy) {
        return lane;
      }
      if (lane.queued.length < best.queued.length) {
        best = lane;
      }
    }
    return best;
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
      return;
    }
    const [waitError, acked] = results?.[batch.length] ?? [new Error("the replicated pipeline returned no results"), undefined];
    batch.forEach((call, i) => {
      const [scriptError, reply] = results?.[i] ?? [new Error("the replicated pipeline returned no results"), undefined];
      if (scriptError) {
        // The function did not exist, so nothing ran: the runner is loading it again, and the next batch waits for that.
        if (isFunctionMissing(scriptError) && !call.resent) {
          lane.queued.push({ ...call, resent: true });
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
  }
}
