import { createContextKey, type Context } from "@opentelemetry/api";

/**
 * How many more script spans a stream's calls may make, carried in the
 * stream's trace context. A stream can live for hours and poll Redis all
 * along (Subscribe looks every FEED_POLL_MS); past its budget its script
 * calls make no span and are only counted, on the stream's span.
 */
export interface ScriptSpanBudget {
  left: number;
  dropped: number;
}

const BUDGET = createContextKey("boxoffice script span budget");

export function withScriptBudget(ctx: Context, budget: ScriptSpanBudget): Context {
  return ctx.setValue(BUDGET, budget);
}

/** Takes one script span from the context's budget: false when it is spent (and the call counted). True without a budget. */
export function takeScriptSpan(ctx: Context): boolean {
  const budget = ctx.getValue(BUDGET) as ScriptSpanBudget | undefined;
  if (budget === undefined) {
    return true;
  }
  if (budget.left === 0) {
    budget.dropped += 1;
    return false;
  }
  budget.left -= 1;
  return true;
}
