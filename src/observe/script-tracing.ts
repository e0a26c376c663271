import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { takeScriptSpan } from "./script-budget.js";
import type { ScriptObserver } from "./script-observer.js";

/**
 * A client span per script call made while a span is current (that is,
 * inside a traced RPC), named `FCALL joinQueue` (`FCALL_RO` for read-only
 * scripts). Background work outside any call (admitter, sweepers, watch
 * loops) makes no script spans: they would be root spans several times a
 * second. A stream's calls make spans within its budget (see
 * `ScriptSpanBudget`). A failed call records the error and sets the status to error; a
 * business outcome (sold out, not found) is a reply, not an error.
 *
 * Attributes: `db.system` and `db.system.name` (`redis`),
 * `db.operation.name` (`FCALL` or `FCALL_RO`), `db.stored_procedure.name`
 * (the versioned function, `joinQueue_<hash>`), `boxoffice.script` (the
 * script, `joinQueue`) and `boxoffice.script.library`.
 */
export function traceScripts(tracer: Tracer): ScriptObserver {
  return {
    start(library, script) {
      const parent = context.active();
      if (trace.getSpan(parent) === undefined || !takeScriptSpan(parent)) {
        return undefined;
      }
      const operation = script.readOnly ? "FCALL_RO" : "FCALL";
      const span = tracer.startSpan(
        `${operation} ${script.name}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "db.system": "redis",
            "db.system.name": "redis",
            "db.operation.name": operation,
            "db.stored_procedure.name": script.functionName,
            "boxoffice.script": script.name,
            "boxoffice.script.library": library,
          },
        },
        parent,
      );
      return {
        end(error) {
          if (error !== undefined) {
            const exception = error instanceof Error ? error : new Error(String(error));
            span.recordException(exception);
            span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
          }
          span.end();
        },
      };
    },
  };
}
