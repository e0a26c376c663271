/**
 * What watches the Lua scripts run: metrics today, trace spans later, at the
 * one point every script passes through (`ScriptRunner`). Without an
 * observer the runner's path does not change at all.
 */
export interface ScriptObserver {
  /** A script was sent (alone, or queued on a pipeline); the handle hears its reply. */
  start(script: string): ScriptObservation;
}

export interface ScriptObservation {
  /** The reply arrived (`error` undefined) or the call failed. Called once. */
  end(error?: unknown): void;
}

/** Why a script call failed, as a small fixed set of label values. */
export type ScriptErrorKind = "reply" | "timeout" | "connection" | "load" | "other";

/**
 * `reply`: Redis answered with an error (a script bug, OOM, a refused
 * command); `timeout`: no reply within the command timeout; `connection`:
 * Redis could not be reached; `load`: the library could not be loaded.
 */
export function scriptErrorKind(error: unknown): ScriptErrorKind {
  if (!(error instanceof Error)) {
    return "other";
  }
  if (error.name === "LibraryLoadError") {
    return "load";
  }
  if (error.name === "ReplyError") {
    return "reply";
  }
  if (error.message.startsWith("Command timed out")) {
    return "timeout";
  }
  const code = (error as { code?: unknown }).code;
  if (
    error.name === "MaxRetriesPerRequestError" ||
    (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(code)) ||
    /^(Connection is closed|Stream isn't writeable)/.test(error.message)
  ) {
    return "connection";
  }
  return "other";
}

/** Every observer in one, or undefined when there is none (the runner then observes nothing). */
export function combineScriptObservers(observers: ReadonlyArray<ScriptObserver | undefined>): ScriptObserver | undefined {
  const present = observers.filter((o): o is ScriptObserver => o !== undefined);
  if (present.length <= 1) {
    return present[0];
  }
  return {
    start(script) {
      const calls = present.map((o) => o.start(script));
      return { end: (error) => calls.forEach((c) => c.end(error)) };
    },
  };
}
