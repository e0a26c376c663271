import type { Logger } from "pino";
import { probeCluster } from "./cluster-probe.js";
import { isCluster, type RedisConnection } from "./redis-cluster.js";

export interface RedisMonitorOptions {
  /** Pause between two pings. */
  readonly intervalMs: number;
  /** A ping not answered within this long counts as Redis being unreachable. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Hears each change of availability: false when Redis became unreachable, true when it answers again. */
export type AvailabilityListener = (available: boolean) => void;

/**
 * Knows whether this process can reach Redis right now, and tells its
 * listeners each time that changes: health turns NOT_SERVING, new calls are
 * refused at once and open streams end (see `withBackendGuard`).
 *
 * It pings every `intervalMs`, and at once whenever the connection closes
 * or becomes ready again, so a Redis that is gone is noticed immediately, a
 * frozen one within `intervalMs + timeoutMs`, and a returning one as soon as
 * the client has reconnected. It starts out available: the composition root
 * is handed a connected client.
 *
 * On a Redis Cluster a check is `probeCluster` instead of one PING: every
 * slot must be owned by a primary that answers with the cluster state ok.
 * A failed probe refreshes the client's slot table, so the next check, one
 * interval later, sees a replica promoted meanwhile. (Node connections come
 * and go while a node is down: checking on each of those events would spin.)
 */
export class RedisMonitor {
  readonly #redis: RedisConnection;
  readonly #options: RedisMonitorOptions;
  readonly #listeners = new Set<AvailabilityListener>();
  readonly #poke = (): void => {
    this.#poked = true;
    this.#wake?.();
  };
  #available = true;
  #changedAt = Date.now();
  #poked = false;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(redis: RedisConnection, options: RedisMonitorOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** Whether the last check reached Redis. */
  get available(): boolean {
    return this.#available;
  }

  /** Listens to changes of availability; returns the function that stops listening. */
  subscribe(listener: AvailabilityListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Starts pinging (the first ping goes out at once). */
  start(): void {
    if (this.#running || this.#stopped) {
      return;
    }
    this.#redis.on("close", this.#poke);
    this.#redis.on("ready", this.#poke);
    this.#running = this.#run();
  }

  /** Stops pinging and waits for a ping in flight; the last known availability stays. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#redis.off("close", this.#poke);
    this.#redis.off("ready", this.#poke);
    this.#wake?.();
    await this.#running;
  }

  /** One ping now; updates the availability and resolves with it. */
  async check(): Promise<boolean> {
    const failure = await this.#ping();
    this.#set(failure === undefined, failure);
    return this.#available;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#poked = false;
      await this.check();
      if (!this.#poked) {
        await this.#pause(this.#options.intervalMs);
      }
    }
  }

  /** Resolves with undefined when Redis answered, else with why not. */
  async #ping(): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(() => {
        // After a pause of this process, timers run before pending socket reads:
        // give a PONG that already arrived its turn before calling it lost.
        setImmediate(() => resolve(new Error(`no answer within ${this.#options.timeoutMs} ms`)));
      }, this.#options.timeoutMs);
    });
    try {
      const redis = this.#redis;
      const answer = isCluster(redis) ? probeCluster(redis) : redis.ping().then(() => undefined);
      return await Promise.race([answer.catch((err: unknown) => err), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #set(available: boolean, cause: unknown): void {
    if (available === this.#available) {
      return;
    }
    const now = Date.now();
    const lastedMs = now - this.#changedAt;
    this.#available = available;
    this.#changedAt = now;
    if (available) {
      this.#options.logger.info({ unreachableForMs: lastedMs }, "redis reachable again");
    } else {
      this.#options.logger.warn({ err: cause }, "redis unreachable");
    }
    for (const listener of [...this.#listeners]) {
      try {
        listener(available);
      } catch (err) {
        this.#options.logger.error({ err }, "redis availability listener failed");
      }
    }
  }

  #pause(ms: number): Promise<void> {
    if (this.#stopped) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }
}
