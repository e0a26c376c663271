/**
 * Replies Redis gives instead of running a command: the server is loading,
 * is a replica, lost its primary or its quorum, refuses writes without
 * enough replicas, is out of memory (`maxmemory`) or unable to persist, is
 * busy with a script past its time limit, or (on a cluster) sends the
 * command elsewhere: MOVED and ASK, or TRYAGAIN while a multi-key command
 * meets a slot whose keys are split between two nodes in the middle of a
 * resharding. The command did not run, and may once the server is back.
 */
const REFUSED_REPLY = /^(LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK|OOM|MISCONF|BUSY)\b/;

/** Whether a reply's message (or the text of an error quoting one) is such a refusal. */
export function isRefusedReply(message: string): boolean {
  return REFUSED_REPLY.test(message);
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"]);

/**
 * ioredis's failure of a command because its connection could not be made
 * or was lost: refused or reset, closed, not writable while reconnecting
 * (no offline queue), given up on after the connection dropped, or the rest
 * of a pipeline whose connection closed after part of it had answered (a
 * primary killed while a WAIT behind a script blocks). Whether the command
 * ran is unknown.
 */
export function isConnectionLost(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    (typeof code === "string" && CONNECTION_CODES.has(code)) ||
    (error.name === "AbortError" && error.message.startsWith("Command aborted due to connection close")) ||
    /^(Connection is closed|Stream isn't writeable)/.test(error.message)
  );
}
