import type { BackendOutcome } from "./errors.js";

/**
 * Replies Redis gives instead of running a command: the server is loading,
 * is a replica, lost its primary or its quorum, refuses writes without
 * enough replicas, or (on a cluster) sends the command elsewhere: MOVED and
 * ASK, or TRYAGAIN while a multi-key command meets a slot whose keys are
 * split between two nodes in the middle of a resharding.
 */
const REFUSED_REPLY = /^(LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

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
  if (err.name === "MaxRetriesPerRequestError" || err.name === "ClusterAllFailedError") {
    return "UNKNOWN";
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(code)) {
    return "UNKNOWN";
  }
  if (REFUSED_REPLY.test(err.message)) {
    return "NOT_APPLIED";
  }
  // ioredis gave up following redirections: every reply was one (the
  // command ran nowhere) unless the last attempt lost its connection, which
  // ends the attempts at once.
  const redirections = /^Too many Cluster redirections\. Last error: (?:\w*Error: )?(.*)$/s.exec(err.message);
  if (redirections) {
    return REFUSED_REPLY.test(redirections[1] ?? "") ? "NOT_APPLIED" : "UNKNOWN";
  }
  if (/^(Cluster isn't ready|Cluster has no known primary|None of startup nodes is available)/.test(err.message)) {
    return "NOT_APPLIED";
  }
  if (
    /^(Connection is closed|Stream isn't writeable|Command timed out)/.test(err.message) ||
    // A Redis Cluster in the middle of a failover, a resharding or a restart.
    /^Failed to refresh slots cache/.test(err.message)
  ) {
    return "UNKNOWN";
  }
  return undefined;
}
