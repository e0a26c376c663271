import { isConnectionLost, isRefusedReply } from "../redis/redis-errors.js";
import type { BackendOutcome } from "./errors.js";

/**
 * Redis's reply to a blocked command (a WAIT behind a write, a blocking
 * read) when its primary became a replica: a failover moved the primary
 * elsewhere. The writes sent before it ran on the old primary, and may or
 * may not have reached the new one.
 */
const UNBLOCKED_REPLY = /^UNBLOCKED\b/;

/**
 * What a failure of a Redis command means for the call that sent it: the
 * store could not be reached or was between two states, and the command
 * did not run (`NOT_APPLIED`) or may have (`UNKNOWN`); or undefined when it
 * is no such failure (a script bug: INTERNAL).
 */
export function redisFailure(err: unknown): BackendOutcome | undefined {
  if (!(err instanceof Error)) {
    return undefined;
  }
  // Named by this service's script runner: the function is missing on the
  // node that answered even after the library was loaded again (a node taking
  // a slot in a resharding); the call did not run.
  if (err.name === "FunctionUnavailableError") {
    return "NOT_APPLIED";
  }
  if (err.name === "ClusterAllFailedError" || isConnectionLost(err)) {
    return "UNKNOWN";
  }
  if (UNBLOCKED_REPLY.test(err.message)) {
    return "UNKNOWN";
  }
  if (isRefusedReply(err.message)) {
    return "NOT_APPLIED";
  }
  // ioredis gave up following redirections: every reply was one (the
  // command ran nowhere) unless the last attempt lost its connection, which
  // ends the attempts at once.
  const redirections = /^Too many Cluster redirections\. Last error: (?:\w*Error: )?(.*)$/s.exec(err.message);
  if (redirections) {
    return isRefusedReply(redirections[1] ?? "") ? "NOT_APPLIED" : "UNKNOWN";
  }
  if (/^(Cluster isn't ready|Cluster has no known primary|None of startup nodes is available)/.test(err.message)) {
    return "NOT_APPLIED";
  }
  if (
    err.message.startsWith("Command timed out") ||
    // A Redis Cluster in the middle of a failover, a resharding or a restart.
    /^Failed to refresh slots cache/.test(err.message)
  ) {
    return "UNKNOWN";
  }
  return undefined;
}
