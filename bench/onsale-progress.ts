import type { EventEmitter } from "node:events";
import type { OnSaleClientMessage } from "./onsale-client.js";
import { UsageSampler } from "./usage-sampler.js";

type Progress = Extract<OnSaleClientMessage, { kind: "progress" }>;

/**
 * Prints where an on-sale run is every five seconds, with the cores the
 * service, Redis and the load process used over those seconds: on two shared
 * cores, which of them was busy (or idle) explains the latencies.
 */
export class ProgressPrinter {
  readonly service: UsageSampler;
  readonly #samplers: ReadonlyArray<readonly [string, UsageSampler]>;
  readonly #timer: NodeJS.Timeout;
  readonly #client: EventEmitter;
  readonly #onMessage: (message: unknown) => void;

  /** `client` is the load process, whose `progress` messages it reads. */
  constructor(pids: { readonly service: number; readonly redis: number; readonly client: number }, client: EventEmitter) {
    this.service = new UsageSampler(pids.service);
    this.#samplers = [
      ["service", this.service],
      ["Redis", new UsageSampler(pids.redis)],
      ["load", new UsageSampler(pids.client)],
    ];
    let latest: Progress | undefined;
    let seconds = 0;
    this.#client = client;
    this.#onMessage = (message) => {
      if ((message as { kind?: string })?.kind === "progress") latest = message as Progress;
    };
    client.on("message", this.#onMessage);
    this.#timer = setInterval(() => {
      seconds += 5;
      const where = latest ? `${latest.joined} joined, ${latest.open} streams open, ${latest.admitted} passes received` : "starting";
      const cores = this.#samplers.map(([name, sampler]) => `${name} ${recent(sampler.cores, 5).toFixed(2)}`).join(", ");
      console.log(`  ${String(seconds).padStart(4)} s: ${where}; cores: ${cores}`);
    }, 5_000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#client.off("message", this.#onMessage);
    for (const [, sampler] of this.#samplers) sampler.stop();
  }
}

/** Mean of the last `count` samples. */
function recent(samples: readonly number[], count: number): number {
  const last = samples.slice(-count);
  return last.reduce((a, b) => a + b, 0) / Math.max(1, last.length);
}
