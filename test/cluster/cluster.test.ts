import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart, type ChangeEvent } from "../../gen/boxoffice/v1/feed_pb.js";
import { QueueService, QueueState, TicketState } from "../../gen/boxoffice/v1/queue_pb.js";
import { HoldState, SeatService } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { HealthCheckResponse_ServingStatus, Health } from "../../gen/grpc/health/v1/health_pb.js";
import pino from "pino";
import { consume } from "../../src/client/consume.js";
import { loadFeedScripts } from "../../src/feed/scripts.js";
import { loadQueueScripts } from "../../src/queue/scripts.js";
import { eventLogKey } from "../../src/redis/event-log.js";
import { closeRedisClient } from "../../src/redis/redis-client.js";
import { connectRedisCluster, createRedisCluster, subscriberConnection } from "../../src/redis/redis-cluster.js";
import { loadSeatScripts } from "../../src/seats/scripts.js";
import { OutboxNotifications, type ShardedSubscriber } from "../../src/watch/outbox-notifications.js";
import { listLibrary } from "../support/functions.js";
import { startLocalCluster, type LocalCluster } from "../support/redis-cluster.js";
import { uniqueId } from "../support/redis.js";
import { replicaWaitBlocks } from "./replica-wait.js";
import { confirmThroughFailover, expectEverySeatSold, holdEverySeat, type SeatHold } from "./sales.js";
import { startClusterServer, type ClusterServer } from "./server.js";

/**
 * The service over a real Redis Cluster (3 primaries, 3 replicas), started
 * once for this file. The blocks run in order: the failover brings its
 * killed primary back as a replica and waits for a healthy cluster; the
 * resharding, which leaves a fourth primary, comes last.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let cluster: LocalCluster;
let server: ClusterServer;
beforeAll(async () => {
  cluster = await startLocalCluster();
  server = await startClusterServer(cluster);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
}, 60_000);

/** `count` fresh event ids whose slots belong to `count` different primaries. */
async function eventsOnDistinctPrimaries(count: number): Promise<Array<{ eventId: string; primary: number }>> {
  const found = new Map<number, string>();
  while (found.size < count) {
    const eventId = uniqueId();
    const primary = await cluster.ownerOf(`{${eventId}}`);
    if (!found.has(primary)) found.set(primary, eventId);
  }
  return [...found].map(([primary, eventId]) => ({ eventId, primary }));
}

async function primaryPorts(): Promise<number[]> {
  return (await cluster.shards()).map((shard) => shard.primary).sort();
}

function codeOf(err: unknown): { code: Code; reason: string | undefined } {
  const error = ConnectError.from(err);
  return { code: error.code, reason: error.findDetails(ErrorInfoSchema)[0]?.reason };
}

describe("events spread over the shards", () => {
  it("serves the whole flow — configure, join, watch, admit, hold, confirm, change feed — for events on every primary", async () => {
    const events = await eventsOnDistinctPrimaries(3);
    expect(events.map((e) => e.primary).sort()).toEqual(await primaryPorts());
    const queue = server.client(QueueService);
    const seats = server.client(SeatService);
    const feed = server.client(ChangeFeedService);

    await Promise.all(
      events.map(async ({ eventId, primary }) => {
        const abort = new AbortController();
        const changes = feed.subscribe({ eventId, group: "billing", consumer: "c1", start: SubscribeStart.BEGINNING }, { signal: abort.signal });
        await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2", "A3"] }] }], requirePass: true });
        await queue.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100 });
        await queue.join({ eventId, userId: "ann" });
        const watch = queue.watchPosition({ eventId, userId: "ann" })[Symbol.asyncIterator]();
        expect((await watch.next()).value?.ticket).toMatchObject({ state: TicketState.WAITING, position: 1 });
        await queue.configureQueue({ eventId, state: QueueState.OPEN });
        const admitted = (await watch.next()).value?.ticket;
        expect(admitted?.state).toBe(TicketState.ADMITTED);
        await watch.return?.();

        const hold = (await seats.holdSeats({ eventId, userId: "ann", pass: admitted?.pass?.token ?? "", selection: { case: "seats", value: { seatIds: ["A1", "A2"] } } })).hold;
        await seats.confirmHold({ eventId, holdId: hold?.holdId ?? "", userId: "ann", orderId: "order-1" });
        expect((await seats.getHold({ eventId, holdId: hold?.holdId ?? "", userId: "ann" })).hold?.state).toBe(HoldState.CONFIRMED);
        expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ capacity: 3, sold: 2, available: 1 });

        const seen: ChangeEvent[] = [];
        for await (const batch of changes) {
          seen.push(...batch.events);
          await feed.ack({ eventId, group: "billing", ids: batch.events.map((e) => e.id) });
          if (seen.some((e) => e.type === "queue.session_ended")) break;
        }
        abort.abort();
        expect(seen.map((e) => e.type)).toEqual([
          "seat.map_loaded",
          "queue.configured",
          "queue.joined",
          "queue.configured",
          "queue.admitted",
          "seat.held",
          "seat.confirmed",
          "queue.session_ended",
        ]);
        expect(seen.every((e) => e.eventId === eventId)).toBe(true);

        // The event's keys live on the primary its hash tag names, and only there.
        const node = cluster.connect(primary);
        try {
          expect(await node.exists(`${server.prefix}{${eventId}}:s:config`, `${server.prefix}{${eventId}}:q:config`, `${server.prefix}{${eventId}}:log`)).toBe(3);
        } finally {
          node.disconnect();
        }
      }),
    );
    expect((await server.client(Health).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe("the Functions libraries", () => {
  const libraries = [loadQueueScripts(), loadSeatScripts(), loadFeedScripts()];

  it("are loaded on every primary, and again on one that lost them", async () => {
    const { eventId, primary } = (await eventsOnDistinctPrimaries(1))[0]!;
    const seats = server.client(SeatService);
    const queue = server.client(QueueService);
    const feed = server.client(ChangeFeedService);
    await seats.loadSeatMap({ eventId: eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1"] }] }] });
    await queue.configureQueue({ eventId: eventId });
    await feed.getFeedStats({ eventId: eventId });
    for (const port of await primaryPorts()) {
      const node = cluster.connect(port);
      try {
        for (const library of libraries) expect(Object.keys(await listLibrary(node, library.name)).length).toBe(library.functions.size);
      } finally {
        node.disconnect();
      }
    }

    const node = cluster.connect(primary);
    try {
      await node.function("FLUSH", "SYNC");
      expect(await listLibrary(node, libraries[1]!.name)).toEqual({});
      // The next call on an event of that node finds no function there, loads the library and is sent again.
      const held = await seats.holdSeats({ eventId: eventId, userId: "u", selection: { case: "seats", value: { seatIds: ["A1"] } } });
      expect(held.hold?.state).toBe(HoldState.HELD);
      expect((await queue.join({ eventId: eventId, userId: "u" })).ticket?.position).toBe(1);
      for (const library of libraries.slice(0, 2)) expect(Object.keys(await listLibrary(node, library.name)).length).toBe(library.functions.size);
    } finally {
      node.disconnect();
    }
  });
});

describe("npm start with REDIS_CLUSTER_NODES", () => {
  it("connects to the cluster (no private redis-server) and serves every RPC, sales waiting for their shard's replica", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: "0",
      CONNECT_PORT: "0",
      METRICS_PORT: "0",
      LOG_LEVEL: "info",
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_WAIT_REPLICAS: "1",
      REDIS_WAIT_TIMEOUT_MS: "5000",
    };
    delete env["REDIS_URL"];
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = once(child, "exit");
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    const messages: string[] = [];
    let grpc = "";
    for await (const line of createInterface({ input: child.stdout })) {
      const entry = JSON.parse(line) as { msg: string; grpc?: string; primaries?: number };
      messages.push(entry.msg);
      if (entry.msg === "connected to the redis cluster") expect(entry.primaries).toBe(3);
      if (entry.msg === "boxoffice is serving") {
        grpc = entry.grpc ?? "";
        break;
      }
    }
    expect(messages).toContain("connected to the redis cluster");
    expect(messages).not.toContain("embedded redis-server started");
    const transport = createGrpcTransport({ baseUrl: `http://${grpc}` });
    const queue = createClient(QueueService, transport);
    const seats = createClient(SeatService, transport);
    const feed = createClient(ChangeFeedService, transport);
    const eventId = uniqueId();
    const first = async <T>(stream: AsyncIterable<T>): Promise<T> => {
      for await (const message of stream) return message;
      throw new Error("the stream ended without a message");
    };

    await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    expect((await queue.join({ eventId, userId: "ann" })).ticket?.position).toBe(1);
    expect((await queue.getPosition({ eventId, userId: "ann" })).ticket?.position).toBe(1);
    const watching = new AbortController();
    expect((await first(queue.watchPosition({ eventId, userId: "ann" }, { signal: watching.signal }))).ticket?.position).toBe(1);
    watching.abort();
    expect((await queue.getQueueStats({ eventId })).stats?.waiting).toBe(1);
    await queue.leave({ eventId, userId: "ann" });

    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }] });
    const hold = (await seats.holdSeats({ eventId, userId: "ben", selection: { case: "seats", value: { seatIds: ["A1"] } } })).hold!;
    await seats.extendHold({ eventId, holdId: hold.holdId, userId: "ben", ttlSeconds: 900 });
    await seats.releaseHold({ eventId, holdId: hold.holdId, userId: "ben" });
    const second = (await seats.holdSeats({ eventId, userId: "ben", selection: { case: "seats", value: { seatIds: ["A2"] } } })).hold!;
    await seats.confirmHold({ eventId, holdId: second.holdId, userId: "ben", orderId: "o-1" });
    expect((await seats.getHold({ eventId, holdId: second.holdId, userId: "ben" })).hold?.state).toBe(HoldState.CONFIRMED);
    expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ capacity: 2, sold: 1, available: 1 });
    const availability = new AbortController();
    expect((await first(seats.watchAvailability({ eventId }, { signal: availability.signal }))).availability?.event?.sold).toBe(1);
    availability.abort();

    const subscribing = new AbortController();
    const batch = await first(feed.subscribe({ eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING }, { signal: subscribing.signal }));
    subscribing.abort();
    expect(batch.events[0]?.type).toBe("queue.configured");
    expect((await feed.ack({ eventId, group: "g", ids: batch.events.map((e) => e.id) })).acknowledged).toBe(batch.events.length);
    expect((await feed.getFeedStats({ eventId })).groups.map((g) => g.group)).toEqual(["g"]);
    expect((await feed.listDeadLetters({ eventId, group: "g" })).total).toBe(0n);
    expect((await feed.replayDeadLetters({ eventId, group: "g", all: true })).replayed).toBe(0);
    expect((await createClient(Health, transport).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
  }, 90_000);
});

// Sales that wait for a replica, on a server of their own; they leave every shard with its replica.
replicaWaitBlocks(() => cluster);

describe("a primary lost under load", () => {
  const HOLDS = 40;
  const WORKERS = 4;
  /** ConfirmHold calls answered OK before the primary is killed. */
  const KILL_AFTER = 12;

  interface Sale {
    readonly eventId: string;
    readonly primary: number;
    readonly holds: readonly SeatHold[];
  }

  async function prepare(eventId: string, primary: number): Promise<Sale> {
    return { eventId, primary, holds: await holdEverySeat(server.client(SeatService), eventId, HOLDS) };
  }

  it(
    "fails calls fast with UNAVAILABLE during the failover, recovers by itself, and keeps every confirmed sale",
    async () => {
      const [victim, other] = await eventsOnDistinctPrimaries(2);
      const sales = [await prepare(victim!.eventId, victim!.primary), await prepare(other!.eventId, other!.primary)];
      const replica = (await cluster.shards()).find((shard) => shard.primary === victim!.primary)?.replicas[0];
      expect(replica).toBeDefined();
      const seats = server.client(SeatService);

      let healthWhileDown: HealthCheckResponse_ServingStatus | undefined;
      const failOver = async (): Promise<void> => {
        // Replication is asynchronous and the service does not WAIT for a replica yet: a sale
        // acknowledged in the last instant before its primary dies could be missing on the
        // replica. So the primary dies at a moment its replica has every write it acknowledged;
        // the confirms it has not answered by then fail, as they would have.
        await cluster.killCaughtUp(victim!.primary);
        // A third of the slots have no reachable primary: the service says so, and refuses every call.
        expect(await server.app.redisMonitor.check()).toBe(false);
        healthWhileDown = (await server.client(Health).check({ service: "" })).status;
        await cluster.promote(replica!);
      };
      // Workers confirm the holds of both events, in turns, while the primary of one of them is killed.
      const { confirmedOk, failures } = await confirmThroughFailover(seats, sales, { workers: WORKERS, killAfter: KILL_AFTER, failOver, describe: codeOf });
      // Every failure was the backend being away, refused fast — never INTERNAL.
      expect(failures.size).toBeGreaterThan(0);
      for (const failure of failures.values()) expect(failure).toEqual({ code: Code.Unavailable, reason: "BACKEND_UNAVAILABLE" });

      await cluster.waitHealthy();
      expect(healthWhileDown).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      // Nothing but the monitor's own checks brings the service back.
      await server.untilAvailable();
      expect((await server.client(Health).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      // The same service, not restarted: the calls that failed go through now.
      for (const sale of sales) {
        for (const hold of sale.holds.filter((h) => failures.has(h.holdId))) {
          await seats.confirmHold({ eventId: sale.eventId, holdId: hold.holdId, userId: hold.userId, orderId: `order-${hold.holdId}` });
        }
      }

      // Every ConfirmHold that answered OK is still a sale after the failover; every seat counted once, none sold twice.
      await expectEverySeatSold(seats, sales);
      expect(confirmedOk.size).toBeGreaterThanOrEqual(KILL_AFTER);

      // The killed node comes back empty and rejoins as the replica of the promoted one.
      await cluster.restart(victim!.primary);
      expect(await cluster.waitReplica(victim!.primary)).toBe(replica);
      await cluster.waitHealthy();
      expect((await seats.getAvailability({ eventId: victim!.eventId })).availability?.event?.sold).toBe(HOLDS);
    },
    120_000,
  );
});

describe("a resharding onto a new, empty primary", () => {
  it("follows MOVED and ASK while the event's slot moves, loads the libraries on the new node, and loses nothing", async () => {
    // Whatever ran before, it starts from a healthy cluster the service serves.
    await cluster.waitHealthy();
    expect(await server.app.redisMonitor.check()).toBe(true);
    const eventId = uniqueId();
    const queue = server.client(QueueService);
    const seats = server.client(SeatService);
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2", "A3"] }] }] });
    await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    for (let i = 0; i < 5; i++) await queue.join({ eventId, userId: `u${i}` });
    const hold = (await seats.holdSeats({ eventId, userId: "u0", selection: { case: "seats", value: { seatIds: ["A1"] } } })).hold!;

    const port = await cluster.addNode();
    const node = cluster.connect(port);
    onTestFinished(() => node.disconnect());
    expect(await listLibrary(node, loadSeatScripts().name)).toEqual({});
    const slot = Number(await node.cluster("KEYSLOT", `{${eventId}}`));

    // Calls keep coming while the keys move a few at a time: each is answered, or refused as UNAVAILABLE.
    let moving = true;
    const outcomes = new Map<string, number>();
    const traffic = (async () => {
      for (let i = 0; moving; i++) {
        const outcome = await queue.getPosition({ eventId, userId: `u${i % 5}` }).then(
          (response) => (response.ticket?.position === (i % 5) + 1 ? "ok" : `position ${response.ticket?.position}`),
          (err: unknown) => Code[codeOf(err).code],
        );
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    })();
    await cluster.moveSlot(slot, port, 2);
    moving = false;
    await traffic;
    expect([...outcomes.keys()].filter((outcome) => outcome !== "ok" && outcome !== "Unavailable")).toEqual([]);

    expect(await cluster.ownerOf(`{${eventId}}`)).toBe(port);
    expect((await queue.join({ eventId, userId: "late" })).ticket?.position).toBe(6);
    await seats.confirmHold({ eventId, holdId: hold.holdId, userId: "u0", orderId: "o-1" });
    expect((await seats.getAvailability({ eventId })).availability?.event).toMatchObject({ capacity: 3, sold: 1, available: 2 });
    expect(await node.exists(`${server.prefix}{${eventId}}:s:config`, `${server.prefix}{${eventId}}:q:config`)).toBe(2);
    for (const library of [loadQueueScripts(), loadSeatScripts()]) {
      expect(Object.keys(await listLibrary(node, library.name)).length).toBe(library.functions.size);
    }
    expect(await server.app.redisMonitor.check()).toBe(true);
  }, 90_000);
});

describe("a slot caught half-way between two primaries", () => {
  it("answers every call OK or UNAVAILABLE, never INTERNAL, while the event's keys are split or all on a node without the libraries", async () => {
    await cluster.waitHealthy();
    // The primary the resharding above added: it has the libraries since it owns a slot; flushed below.
    const target = cluster.ports[cluster.ports.length - 1]!;
    let eventId = uniqueId();
    while ((await cluster.ownerOf(`{${eventId}}`)) === target) eventId = uniqueId();
    const queue = server.client(QueueService);
    const seats = server.client(SeatService);
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2"] }] }] });
    await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    for (let i = 0; i < 3; i++) await queue.join({ eventId, userId: `u${i}` });

    const node = cluster.connect(target);
    onTestFinished(() => node.disconnect());
    const slot = Number(await node.cluster("KEYSLOT", `{${eventId}}`));
    const origin = await cluster.beginMove(slot, target);
    const source = cluster.connect(origin);
    onTestFinished(() => source.disconnect());
    const keys = (await source.call("CLUSTER", "GETKEYSINSLOT", String(slot), "1000")) as string[];
    const mine = keys.filter((key) => key.startsWith(server.prefix));

    /** Each RPC of the event once: its outcome, "ok" or the code, reason and outcome of its failure. */
    const calls = async (): Promise<Record<string, string>> => {
      const outcome = (pending: Promise<unknown>): Promise<string> =>
        pending.then(
          () => "ok",
          (err: unknown) => {
            const error = ConnectError.from(err);
            const info = error.findDetails(ErrorInfoSchema)[0];
            return `${Code[error.code]} ${info?.reason} ${info?.metadata["outcome"]}`;
          },
        );
      return {
        getPosition: await outcome(queue.getPosition({ eventId, userId: "u1" })),
        join: await outcome(queue.join({ eventId, userId: "u1" })),
        stats: await outcome(queue.getQueueStats({ eventId })),
        availability: await outcome(seats.getAvailability({ eventId })),
      };
    };
    const allowed = ["ok", "Unavailable BACKEND_UNAVAILABLE NOT_APPLIED", "Unavailable BACKEND_UNAVAILABLE UNKNOWN"];
    const unexpected = (seen: Record<string, string>): string[] =>
      Object.entries(seen).filter(([, outcome]) => !allowed.includes(outcome)).map(([rpc, outcome]) => `${rpc}: ${outcome}`);

    // The queue's tickets have moved, its line and configuration not yet: a multi-key FCALL meets
    // ASK then TRYAGAIN. Nothing ran, and the caller is told so.
    await cluster.migrate(origin, target, mine.filter((key) => key.includes(":q:t:")));
    const split = await calls();
    expect(unexpected(split)).toEqual([]);
    expect(split.getPosition).toBe("Unavailable BACKEND_UNAVAILABLE NOT_APPLIED");

    // Every key has moved, to a node whose libraries are gone: ASK-redirected calls meet
    // "function not found" there, before the slot table lists the node as the slot's owner.
    await node.function("FLUSH", "SYNC");
    await cluster.migrate(origin, target, mine.filter((key) => !key.includes(":q:t:")));
    for (let round = 0; round < 2; round++) expect(unexpected(await calls())).toEqual([]);

    await cluster.finishMove(slot, origin, target);
    expect(await cluster.ownerOf(`{${eventId}}`)).toBe(target);
    expect(await calls()).toEqual({ getPosition: "ok", join: "ok", stats: "ok", availability: "ok" });
    expect((await queue.getPosition({ eventId, userId: "u2" })).ticket?.position).toBe(3);
  }, 60_000);
});

describe("outbox notifications on the cluster", () => {
  /**
   * A second server whose feed subscriptions look at their outbox only every
   * 60 s and whose watchers read it hourly once a read found something: only
   * the scripts' notifications (SPUBLISH on the event's shard channel) make
   * either see a change within a test.
   */
  let notified: ClusterServer;
  beforeAll(async () => {
    notified = await startClusterServer(cluster, { FEED_POLL_MS: "60000" }, (config) => ({ ...config, watchIntervalMs: 3_600_000 }));
  }, 60_000);
  afterAll(async () => notified?.stop(), 60_000);

  /** Consumes an event's feed (as a backend would, reconnecting after a broken stream) and lets the test await a change. */
  function feedOf(eventId: string) {
    const seen: ChangeEvent[] = [];
    let arrived = (): void => undefined;
    const stop = new AbortController();
    const done = consume({
      client: notified.client(ChangeFeedService),
      eventId,
      group: "notified",
      consumer: "c1",
      start: SubscribeStart.BEGINNING,
      backoff: { initialMs: 20, maxMs: 200 },
      signal: stop.signal,
      handler: (event) => {
        seen.push(event);
        arrived();
      },
    });
    onTestFinished(async () => {
      stop.abort();
      await done;
    });
    const userOf = (event: ChangeEvent): string | undefined => (event.payload.value as { userId?: string } | undefined)?.userId;
    return {
      seen,
      /** Resolves once the change of `type` for `userId` has been delivered. */
      async arrival(type: string, userId: string): Promise<void> {
        while (!seen.some((e) => e.type === type && userOf(e) === userId)) await new Promise<void>((resolve) => (arrived = resolve));
      },
    };
  }

  /** Opens a watch of `userId`, checks its first message, runs `change`, and resolves with the position the next message carries. */
  async function positionAfter(eventId: string, userId: string, first: number, change: () => Promise<unknown>): Promise<number | undefined> {
    const abort = new AbortController();
    const watch = notified.client(QueueService).watchPosition({ eventId, userId }, { signal: abort.signal })[Symbol.asyncIterator]();
    try {
      expect((await watch.next()).value?.ticket?.position).toBe(first);
      await change();
      return (await watch.next()).value?.ticket?.position;
    } finally {
      abort.abort();
      await watch.return?.().catch(() => undefined);
    }
  }

  it("deliver every change of events on different shards, and follow an event's slot through a failover and a resharding", async () => {
    await cluster.waitHealthy();
    await notified.untilAvailable();
    const [a, b] = await eventsOnDistinctPrimaries(2);
    expect(a!.primary).not.toBe(b!.primary);
    const queue = notified.client(QueueService);
    const events = [a!.eventId, b!.eventId];
    for (const eventId of events) await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    const feeds = new Map(events.map((eventId) => [eventId, feedOf(eventId)]));
    const join = async (eventId: string, userId: string): Promise<void> => {
      await queue.join({ eventId, userId });
      await feeds.get(eventId)!.arrival("queue.joined", userId);
    };

    // Healthy: each Join and Leave reaches the feed, and the watchers, of its event.
    for (const eventId of events) {
      for (const userId of ["u1", "u2", "u3"]) await join(eventId, userId);
      expect(await positionAfter(eventId, "u3", 3, () => queue.leave({ eventId, userId: "u1" }))).toBe(2);
      await feeds.get(eventId)!.arrival("queue.left", "u1");
    }

    // The primary of the first event fails over to its replica: the feeds' streams break and
    // reconnect, and the notifications of that event now come from the promoted replica.
    const replica = (await cluster.shards()).find((shard) => shard.primary === a!.primary)?.replicas[0];
    expect(replica).toBeDefined();
    await cluster.killCaughtUp(a!.primary);
    await cluster.promote(replica!);
    await cluster.waitHealthy();
    expect(await cluster.ownerOf(`{${a!.eventId}}`)).toBe(replica);
    await notified.untilAvailable();
    for (const eventId of events) {
      // The first change may reach a feed stream reconnecting (its first read delivers it); the second meets it open.
      await join(eventId, "u4");
      await join(eventId, "u5");
      expect(await positionAfter(eventId, "u5", 4, () => queue.leave({ eventId, userId: "u2" }))).toBe(3);
    }

    // The first event's slot moves to the second event's primary: the feed stream stays open,
    // and the notifications follow the slot.
    const slot = Number(await server.redis.cluster("KEYSLOT", `{${a!.eventId}}`));
    await cluster.moveSlot(slot, b!.primary);
    expect(await cluster.ownerOf(`{${a!.eventId}}`)).toBe(b!.primary);
    await join(a!.eventId, "u6");
    expect(await positionAfter(a!.eventId, "u6", 4, () => queue.leave({ eventId: a!.eventId, userId: "u3" }))).toBe(3);

    // Nothing lost: every entry of each outbox was delivered, at least once, in order.
    for (const eventId of events) {
      await feeds.get(eventId)!.arrival("queue.left", eventId === a!.eventId ? "u3" : "u2");
      const all = (await server.redis.xrange(`${notified.prefix}{${eventId}}:log`, "-", "+")).map(([id]) => id);
      const delivered = feeds.get(eventId)!.seen.map((e) => e.id);
      expect([...new Set(delivered)]).toEqual(all);
    }
  }, 60_000);

  it("subscribe a channel again, and look at its event, once the subscribers follow its slot to a new owner", async () => {
    await cluster.waitHealthy();
    // A command connection of its own that sends nothing: only the subscription itself learns of the move.
    const commands = createRedisCluster(cluster.seeds.split(",").map((seed) => ({ host: "127.0.0.1", port: Number(seed.split(":")[1]) })), {
      commandTimeoutMs: 2_000,
      logger: pino({ level: "silent" }),
    });
    await connectRedisCluster(commands);
    const subscriber = subscriberConnection(commands);
    const notifications = new OutboxNotifications(subscriber as unknown as ShardedSubscriber, pino({ level: "silent" }));
    onTestFinished(async () => {
      notifications.close();
      await closeRedisClient(commands);
    });
    // Connected before anything is subscribed: the subscribers made for its first slot table are
    // made within the turn that connects it, not later, under the subscription below.
    await subscriber.connect();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const [moving, other] = await eventsOnDistinctPrimaries(2);
    const channel = eventLogKey("tnotify:", moving!.eventId);
    let calls = 0;
    let called = (): void => undefined;
    const nextCall = (): Promise<void> => new Promise<void>((resolve) => (called = resolve));
    await new Promise<void>((resolve) =>
      notifications.add(
        channel,
        () => {
          calls += 1;
          called();
        },
        resolve,
      ),
    );

    // The slot moves: its old owner drops the subscription (SUNSUBSCRIBE), ioredis refreshes the
    // subscribers' slot table and subscribes the channel on the new owner. What was published
    // in between went nowhere, so the event is looked at once the new subscription is confirmed.
    expect(calls).toBe(0);
    const looked = nextCall();
    const slot = Number(await commands.cluster("KEYSLOT", channel));
    await cluster.moveSlot(slot, other!.primary);
    await looked;
    // And the subscription is on the new owner: a message published there arrives.
    const before = calls;
    const heard = nextCall();
    await commands.spublish(channel, "1-1");
    await heard;
    expect(calls).toBe(before + 1);
  }, 60_000);
});
