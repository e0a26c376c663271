import type { Registry } from "prom-client";
import type { ObservedScript, ScriptCallObserver, ScriptObserver } from "../observe/script-observer.js";
import { isConnectionLost } from "../redis/redis-errors.js";
import { HistogramCells, registerCollected, type Sample } from "./collected.js";

/** Why a script call failed, as a small fixed set of label values. */
export type ScriptErrorKind = "reply" | "timeout" | "connection" | "load" | "other";

/**
 * `reply`: Redis answered with an error (a script bug, OOM, a refused
 * command); `timeout`: no reply within the command timeout; `connection`:
 * Redis could not be reached; `load`: the library could not be loaded, or
 * was still missing on the cluster node that answered (a node importing a slot).
 */
export function scriptErrorKind(error: unknown): ScriptErrorKind {
  if (!(error instanceof Error)) {
    return "other";
  }
  if (error.name === "LibraryLoadError" || error.name === "FunctionUnavailableError") {
    return "load";
  }
  if (error.name === "ReplyError") {
    return "reply";
  }
  if (error.message.startsWith("Command timed out")) {
    return "timeout";
  }
  if (isConnectionLost(error)) {
    return "connection";
  }
  return "other";
}

/** Buckets of `boxoffice_redis_script_seconds`: a script takes tens of microseconds to a few milliseconds, round trip included. */
export const SCRIPT_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

class ScriptCells {
  readonly labels: Readonly<Record<string, string>>;
  readonly seconds = new HistogramCells(SCRIPT_BUCKETS);
  readonly errors = new Map<ScriptErrorKind, number>();

  constructor(script: string) {
    this.labels = { script };
  }
}

/**
 * `boxoffice_redis_script_seconds{script}` (the time from sending a script to
 * its reply, as the process sees it: queueing on the connection and the
 * round trip included) and `boxoffice_redis_script_errors_total{script,kind}`.
 */
export class ScriptMetrics implements ScriptObserver {
  readonly #scripts = new Map<string, ScriptCells>();

  constructor(registry: Registry) {
    const each = (fn: (s: ScriptCells) => Sample[]) => (): Sample[] => [...this.#scripts.values()].flatMap(fn);
    registerCollected(registry, {
      name: "boxoffice_redis_script_seconds",
      help: "Time from sending a Lua script (FCALL) to its reply, failed calls included.",
      type: "histogram",
      collect: each((s) => s.seconds.samples("boxoffice_redis_script_seconds", s.labels)),
    });
    registerCollected(registry, {
      name: "boxoffice_redis_script_errors_total",
      help: "Lua script calls that failed, by kind: reply (Redis answered an error), timeout, connection, load, other.",
      type: "counter",
      collect: each((s) => [...s.errors].map(([kind, n]) => ({ labels: { ...s.labels, kind }, value: n }))),
    });
  }

  start(_library: string, { name: script }: ObservedScript): ScriptCallObserver {
    let cells = this.#scripts.get(script);
    if (cells === undefined) {
      cells = new ScriptCells(script);
      this.#scripts.set(script, cells);
    }
    const started = performance.now();
    const target = cells;
    return {
      end(error) {
        target.seconds.observe((performance.now() - started) / 1000);
        if (error !== undefined) {
          const kind = scriptErrorKind(error);
          target.errors.set(kind, (target.errors.get(kind) ?? 0) + 1);
        }
      },
    };
  }
}
