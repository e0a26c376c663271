/** One Lua function as an observer sees it (a `LuaFunction` of `src/redis/function-library.ts` is one). */
export interface ObservedScript {
  /** `joinQueue` */
  readonly name: string;
  /** What FCALL names: `<name>_<version>`. */
  readonly functionName: string;
  /** Called with FCALL_RO. */
  readonly readOnly: boolean;
}

/**
 * Watches each script call a `ScriptRunner` makes (one FCALL, alone or
 * queued on a pipeline), at the one point every script passes through:
 * metrics and tracing both hang here. With no observer, a call pays for
 * nothing more than an `undefined` check.
 */
export interface ScriptObserver {
  /**
   * A call of `script` from `library` is about to be sent (or to wait for the
   * library's load). Undefined: this call is not observed further.
   */
  start(library: string, script: ObservedScript): ScriptCallObserver | undefined;
}

export interface ScriptCallObserver {
  /**
   * The reply arrived (`error` undefined) or the call failed: a Redis error
   * reply, a lost connection, a timeout. Business outcomes are replies.
   * Called exactly once.
   */
  end(error: unknown): void;
}

/** One observer made of several (metrics and tracing side by side); undefined when none is given. */
export function composeScriptObservers(...observers: ReadonlyArray<ScriptObserver | undefined>): ScriptObserver | undefined {
  const present = observers.filter((o): o is ScriptObserver => o !== undefined);
  if (present.length <= 1) {
    return present[0];
  }
  return {
    start(library, script) {
      const calls = present.map((o) => o.start(library, script)).filter((c): c is ScriptCallObserver => c !== undefined);
      if (calls.length <= 1) {
        return calls[0];
      }
      return {
        end(error) {
          for (const call of calls) call.end(error);
        },
      };
    },
  };
}
