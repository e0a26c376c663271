import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** Called with the new status of one service each time it changes. */
export type HealthListener = (status: ServingStatus) => void;

/**
 * The serving status of each service, as reported by `grpc.health.v1.Health`.
 * The composition root owns one instance, sets statuses as dependencies come
 * and go, and calls `setAll(NOT_SERVING)` when draining, so load balancers stop
 * routing here before connections close.
 *
 * The empty name `""` stands for the whole server. A service never set is
 * unknown to Check and Watch.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Map<string, Set<HealthListener>>();

  /** By default only the whole server is known, and serving. */
  constructor(initial: Readonly<Record<string, ServingStatus>> = { "": ServingStatus.SERVING }) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  /** The status of a service, or undefined if it was never set. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** A copy of every known service and its status. */
  snapshot(): ReadonlyMap<string, ServingStatus> {
    return new Map(this.statuses);
  }

  /** Sets one service's status; listeners hear of it only if it changed. */
  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const listener of [...(this.listeners.get(service) ?? [])]) listener(status);
  }

  /** Sets every known service, the whole server (`""`) included. */
  setAll(status: ServingStatus): void {
    this.set("", status);
    for (const service of [...this.statuses.keys()]) this.set(service, status);
  }

  /**
   * Listens to changes of one service, known or not yet. Returns the function
   * that stops listening.
   */
  subscribe(service: string, listener: HealthListener): () => void {
    let set = this.listeners.get(service);
    if (!set) {
      set = new Set();
      this.listeners.set(service, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(service) === set) this.listeners.delete(service);
    };
  }
}
