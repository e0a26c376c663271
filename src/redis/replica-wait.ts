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

/**
 * Runs a library's scripts so that their writes have reached replicas before
 * the caller answers: each call is the script's FCALL and `WAIT numreplicas
 * timeout` in one pipeline, one round trip, on connections used for nothing
 * else.
 *
 * Why connections of their own: WAIT waits for the replication offset of the
 * last write *of the connection that sends it*, and blocks that connection
 * meanwhile. On the shared connection it would make every other call queue
 * behind it; here only waiting writes do, spread over the least busy of a
 * few connections.
 *
 * A script that wrote nothing leaves its connection's offset where the
 * connection's previous write put it; a script whose answer rests on an
 * earlier write (an idempotent retry answering "already done") must write
 * again, even the same value, so that its WAIT covers the earlier write
 * whichever connection made it.
 */
export class ReplicatedScripts<Name extends string> {
  readonly #lanes: Array<{ readonly redis: Redis; readonly runner: ScriptRunner<Name>; inFlight: number }>;
  readonly #policy: ReplicaWaitPolicy;

  constructor(clients: readonly Redis[], library: LuaLibrary, policy: ReplicaWaitPolicy) {
    if (clients.length === 0) {
      throw new Error("ReplicatedScripts needs at least one connection");
    }
    if (!Number.isSafeInteger(policy.replicas) || policy.replicas < 1) {
      throw new Error(`replicas must be a positive integer, got ${policy.replicas}`);
    }
    this.#lanes = clients.map((redis) => ({ redis, runner: new ScriptRunner<Name>(redis, library), inFlight: 0 }));
    this.#policy = policy;
  }

  get policy(): ReplicaWaitPolicy {
    return this.#policy;
  }

  /**
   * FCALL then WAIT, pipelined. A script error is thrown (as by
   * `ScriptRunner.run`, a library lost from Redis is loaded again and the
   * call sent once more); so is a failed WAIT (a lost connection, a command
   * timeout): the write's fate is then unknown.
   */
  async run(name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<ReplicatedReply> {
    const lane = this.#lanes.reduce((best, lane) => (lane.inFlight < best.inFlight ? lane : best));
    lane.inFlight += 1;
    try {
      try {
        return await this.#send(lane, name, keys, args);
      } catch (error) {
        // The function did not exist, so nothing ran: the runner is loading it again, and the resent pipeline waits for that.
        if (!isFunctionMissing(error)) {
          throw error;
        }
        return await this.#send(lane, name, keys, args);
      }
    } finally {
      lane.inFlight -= 1;
    }
  }

  async #send(
    lane: { readonly redis: Redis; readonly runner: ScriptRunner<Name> },
    name: Name,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<ReplicatedReply> {
    const pipeline = lane.redis.pipeline();
    lane.runner.queue(pipeline, name, keys, args);
    pipeline.wait(this.#policy.replicas, this.#policy.timeoutMs);
    const results = await pipeline.exec();
    if (results === null || results.length !== 2) {
      throw new Error("the replicated pipeline returned no results");
    }
    const [[scriptError, reply], [waitError, acked]] = results as [[Error | null, unknown], [Error | null, unknown]];
    if (scriptError) {
      throw scriptError;
    }
    if (waitError) {
      throw waitError;
    }
    if (typeof acked !== "number") {
      throw new Error(`WAIT answered ${String(acked)}`);
    }
    return { reply, acked, replicated: acked >= this.#policy.replicas };
  }
}
