import type { ExportResult } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace";

interface Waiter {
  readonly match: (span: ReadableSpan) => boolean;
  readonly resolve: (span: ReadableSpan) => void;
}

/**
 * An in-memory exporter behind a simple processor (each span exported as it
 * ends) that can also be waited on: `next(match)` resolves with the first
 * exported span that matches, already there or yet to come, which is the
 * signal a test needs when a span ends after the client has its answer (a
 * stream the client abandoned).
 */
export class SpanSink extends InMemorySpanExporter {
  readonly processor = new SimpleSpanProcessor({ exporter: this });
  #waiters: Waiter[] = [];

  override export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    super.export(spans, resultCallback);
    for (const span of spans) {
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(span)) return true;
        w.resolve(span);
        return false;
      });
    }
  }

  /** The exported spans that match. */
  spans(match: (span: ReadableSpan) => boolean): ReadableSpan[] {
    return this.getFinishedSpans().filter(match);
  }

  /** The first matching span, waiting for its export if need be. */
  next(match: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
    const found = this.getFinishedSpans().find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

/** A W3C `traceparent` with fresh random ids, and the ids. */
export function traceparent(): { header: string; traceId: string; spanId: string } {
  const hex = (bytes: number): string => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
  const traceId = hex(16);
  const spanId = hex(8);
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}
