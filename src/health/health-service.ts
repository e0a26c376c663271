import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { registration, type ServiceRegistration } from "../rpc/registration.js";
import { ServingStatus, type HealthStatus } from "./health-status.js";

/**
 * `grpc.health.v1.Health` over a `HealthStatus`, following the gRPC health
 * checking protocol: Check fails with NOT_FOUND for a service never set, while
 * Watch reports SERVICE_UNKNOWN for it and keeps watching until it is set.
 */
export function createHealthService(health: HealthStatus): ServiceRegistration {
  return registration(Health, healthImpl(health));
}

/** The bare implementation, for callers that mount services themselves. */
export function healthImpl(health: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = health.get(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status };
    },

    /**
     * Sends the current status at once, then each change. Changes that pile up
     * while the client is slow are coalesced: the latest status always arrives.
     * Ends when the call's signal aborts (client gone, deadline, or server
     * shutdown), rethrowing the signal's reason so shutdown reaches the client
     * with the code the server chose.
     */
    async *watch(request, ctx) {
      const changes = new LatestValue<ServingStatus>();
      const unsubscribe = health.subscribe(request.service, (status) => changes.put(status));
      try {
        let current = health.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
        yield { status: current };
        for (;;) {
          const next = await changes.take(ctx.signal);
          if (next === current) continue;
          current = next;
          yield { status: current };
        }
      } finally {
        unsubscribe();
      }
    },

    list() {
      const statuses: Record<string, { status: ServingStatus }> = {};
      for (const [service, status] of health.snapshot()) statuses[service] = { status };
      return { statuses };
    },
  };
}

/** A one-slot mailbox: `put` overwrites, `take` waits for a value or an abort. */
class LatestValue<T> {
  private slot: { value: T } | undefined;
  private wake: (() => void) | undefined;

  put(value: T): void {
    this.slot = { value };
    this.wake?.();
  }

  async take(signal: AbortSignal): Promise<T> {
    while (this.slot === undefined) await this.arrival(signal);
    const { value } = this.slot;
    this.slot = undefined;
    return value;
  }

  private arrival(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.wake = undefined;
        reject(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      this.wake = () => {
        this.wake = undefined;
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
    });
  }
}
