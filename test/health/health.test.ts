import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createHealthService } from "../../src/health/health-service.js";
import { HealthStatus, ServingStatus } from "../../src/health/health-status.js";

const QUEUE = "boxoffice.v1.QueueService";

function setup(health = new HealthStatus()) {
  const shutdown = new AbortController();
  const transport = createRouterTransport(
    (router) => {
      const { service, impl } = createHealthService(health);
      router.service(service, impl);
    },
    { router: { shutdownSignal: shutdown.signal } },
  );
  return { health, shutdown, client: createClient(Health, transport) };
}

/** Resolves once the service's Watch stops listening to `health`. */
function unsubscribed(health: HealthStatus): Promise<void> {
  const subscribe = health.subscribe.bind(health);
  return new Promise((resolve) => {
    vi.spyOn(health, "subscribe").mockImplementation((service, listener) => {
      const off = subscribe(service, listener);
      return () => {
        off();
        resolve();
      };
    });
  });
}

describe("HealthStatus", () => {
  it("knows only the whole server at first, serving", () => {
    const health = new HealthStatus();
    expect(health.get("")).toBe(ServingStatus.SERVING);
    expect(health.get(QUEUE)).toBeUndefined();
  });

  it("tells listeners of changes only, until they unsubscribe", () => {
    const health = new HealthStatus({ [QUEUE]: ServingStatus.SERVING });
    const heard: ServingStatus[] = [];
    const off = health.subscribe(QUEUE, (status) => heard.push(status));
    health.set(QUEUE, ServingStatus.SERVING);
    health.set(QUEUE, ServingStatus.NOT_SERVING);
    health.set("", ServingStatus.NOT_SERVING);
    off();
    health.set(QUEUE, ServingStatus.SERVING);
    expect(heard).toEqual([ServingStatus.NOT_SERVING]);
  });

  it("setAll reaches every known service and the whole server", () => {
    const health = new HealthStatus({ [QUEUE]: ServingStatus.SERVING, other: ServingStatus.SERVING });
    health.setAll(ServingStatus.NOT_SERVING);
    expect([...health.snapshot()]).toEqual(
      expect.arrayContaining([
        [QUEUE, ServingStatus.NOT_SERVING],
        ["other", ServingStatus.NOT_SERVING],
        ["", ServingStatus.NOT_SERVING],
      ]),
    );
    expect(health.snapshot().size).toBe(3);
  });
});

describe("grpc.health.v1.Health", () => {
  it("checks the whole server and each known service", async () => {
    const { client, health } = setup(new HealthStatus({ "": ServingStatus.SERVING, [QUEUE]: ServingStatus.NOT_SERVING }));
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: QUEUE })).status).toBe(ServingStatus.NOT_SERVING);
    health.set(QUEUE, ServingStatus.SERVING);
    expect((await client.check({ service: QUEUE })).status).toBe(ServingStatus.SERVING);
  });

  it("fails Check with NOT_FOUND for an unknown service", async () => {
    const { client } = setup();
    const error = await client.check({ service: "no.such.Service" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.NotFound);
  });

  it("lists every known service", async () => {
    const { client } = setup(new HealthStatus({ "": ServingStatus.SERVING, [QUEUE]: ServingStatus.NOT_SERVING }));
    const { statuses } = await client.list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([name, { status }]) => [name, status]))).toEqual({
      "": ServingStatus.SERVING,
      [QUEUE]: ServingStatus.NOT_SERVING,
    });
  });

  it("watches: the current status at once, then each change", async () => {
    const { client, health } = setup(new HealthStatus({ [QUEUE]: ServingStatus.SERVING }));
    const stream = client.watch({ service: QUEUE })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);

    health.set(QUEUE, ServingStatus.NOT_SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.NOT_SERVING);

    // Setting the same status is no change; the next message is the real one.
    health.set(QUEUE, ServingStatus.NOT_SERVING);
    health.set(QUEUE, ServingStatus.SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    await stream.return?.();
  });

  it("watches an unknown service as SERVICE_UNKNOWN until it becomes known", async () => {
    const { client, health } = setup();
    const stream = client.watch({ service: QUEUE })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    health.set(QUEUE, ServingStatus.SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    await stream.return?.();
  });

  it("reports NOT_SERVING to watchers when the server starts draining", async () => {
    const { client, health } = setup();
    const stream = client.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    health.setAll(ServingStatus.NOT_SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    await stream.return?.();
  });

  it("ends Watch with the shutdown reason when the server shuts down, and stops listening", async () => {
    const { client, health, shutdown } = setup();
    const stopped = unsubscribed(health);
    const stream = client.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);

    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("server is shutting down");
    await stopped;
  });

  it("stops listening when the client cancels Watch", async () => {
    const { client, health } = setup();
    const stopped = unsubscribed(health);
    const cancel = new AbortController();
    const stream = client.watch({ service: "" }, { signal: cancel.signal })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    cancel.abort();
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Canceled);
    await stopped;
  });
});
