import type { Registry } from "prom-client";

/** One line of the exposition: a value and its labels (`metricName` for a histogram's `_bucket`, `_sum`, `_count`). */
export interface Sample {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

export interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** The samples as of now; called at each scrape. */
  readonly collect: () => readonly Sample[];
}

/**
 * Registers a metric whose samples are computed at scrape time from state
 * the process keeps anyway (plain numbers bumped on the hot path), rather
 * than a prom-client metric updated per call: a label lookup and hash per
 * increment would cost more than the rest of the bookkeeping together.
 * prom-client still formats the exposition.
 */
export function registerCollected(registry: Registry, metric: CollectedMetric): void {
  const { name, help, type, collect } = metric;
  registry.registerMetric({
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: collect(), aggregator: "sum" }),
  } as unknown as Parameters<Registry["registerMetric"]>[0]);
}

/**
 * A histogram's cells for one series: counts per bucket, sum and count,
 * updated with a short scan of the bounds (no allocation per observation).
 */
export class HistogramCells {
  readonly #bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length);
  }

  get count(): number {
    return this.#count;
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count += 1;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.#counts[i]! += 1;
        return;
      }
    }
  }

  /** `<name>_bucket` (cumulative, up to `+Inf`), `<name>_sum` and `<name>_count`, each with `labels`. */
  samples(name: string, labels: Readonly<Record<string, string>>): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
    });
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: this.#count });
    out.push({ metricName: `${name}_sum`, labels, value: this.#sum });
    out.push({ metricName: `${name}_count`, labels, value: this.#count });
    return out;
  }
}
