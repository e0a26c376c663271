import { Code, ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { HoldState, SeatService, type Hold } from "../../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { HealthCheckResponse_ServingStatus, Health } from "../../gen/grpc/health/v1/health_pb.js";
import { listLibrary } from "../support/functions.js";
import type { LocalCluster } from "../support/redis-cluster.js";
import { uniqueId } from "../support/redis.js";
import { ClusterWaitConnections, type ReplicaWaitConnections } from "../../src/redis/wait-connections.js";
import { SeatStore } from "../../src/seats/seat-store.js";
import { loadSeatScripts } from "../../src/seats/scripts.js";
import { confirmThroughFailover, expectEverySeatSold, holdEverySeat, type SeatHold } from "./sales.js";
import { startClusterServer, type ClusterServer } from "./server.js";

/**
 * ConfirmHold with REDIS_WAIT_REPLICAS=1 on the cluster tests' shared
 * cluster (3 primaries, one replica each): a server of these blocks' own
 * waits for the replica of each event's shard. Every block leaves the
 * cluster healthy, each shard with its replica.
 */

/** Long enough that a replica that is there always answers in time on a busy machine. */
const WAIT_TIMEOUT_MS = 1_000;

interface Failure {
  readonly code: Code;
  readonly reason: string | undefined;
  readonly metadata: Record<string, string>;
  readonly message: string;
}

function failureOf(err: unknown): Failure {
  const error = ConnectError.from(err);
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: error.code, reason: info?.reason, metadata: info?.metadata ?? {}, message: error.rawMessage };
}

async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (err) {
    return failureOf(err);
  }
  throw new Error("expected the call to fail");
}

/** An event, the primary of its slot and that primary's replica (ports). */
interface Shard {
  readonly eventId: string;
  readonly primary: number;
  readonly replica: number;
}

/** Registers the blocks; `shared` is the file's cluster, started before them. */
export function replicaWaitBlocks(shared: () => LocalCluster): void {
  let server: ClusterServer;
  let cluster: LocalCluster;

  /** `count` fresh events whose slots belong to `count` different primaries, each with its replica. */
  async function eventsOnDistinctShards(count: number): Promise<Shard[]> {
    const shards = await cluster.shards();
    const found = new Map<number, string>();
    while (found.size < count) {
      const eventId = uniqueId();
      const primary = await cluster.ownerOf(`{${eventId}}`);
      if (!found.has(primary)) found.set(primary, eventId);
    }
    return [...found].map(([primary, eventId]) => {
      const replica = shards.find((shard) => shard.primary === primary)?.replicas[0];
      if (replica === undefined) throw new Error(`primary ${primary} has no replica`);
      return { eventId, primary, replica };
    });
  }

  /** Seats A1..A4 for the event, and a hold of A1 and A2 by "ann". */
  async function heldSeats(eventId: string): Promise<Hold> {
    const seats = server.client(SeatService);
    await seats.loadSeatMap({ eventId, sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1", "A2", "A3", "A4"] }] }] });
    const { hold } = await seats.holdSeats({ eventId, userId: "ann", selection: { case: "seats", value: { seatIds: ["A1", "A2"] } } });
    return hold!;
  }

  /** How many MOVED replies the node on `port` has sent (INFO errorstats). */
  async function movedReplies(port: number): Promise<number> {
    const node = cluster.connect(port);
    try {
      return Number(/errorstat_MOVED:count=(\d+)/.exec(await node.info("errorstats"))?.[1] ?? 0);
    } finally {
      node.disconnect();
    }
  }

  /** The hold's record as the replica has it (READONLY): what its promotion would keep. */
  async function onReplica(replica: number, eventId: string, holdId: string): Promise<string | null> {
    const node = cluster.connect(replica);
    try {
      await node.readonly();
      return await node.hget(`${server.prefix}{${eventId}}:s:holds`, holdId);
    } finally {
      node.disconnect();
    }
  }

  beforeAll(async () => {
    cluster = shared();
    server = await startClusterServer(cluster, { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS) });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  describe("sales that wait for the replica of their shard (REDIS_WAIT_REPLICAS=1)", () => {
    it("answer OK once the event's shard replica has the sale, for events on every primary, on connections to those primaries", async () => {
      const events = await eventsOnDistinctShards(3);
      const seats = server.client(SeatService);
      await Promise.all(
        events.map(async ({ eventId, replica }) => {
          const hold = await heldSeats(eventId);
          const sold = await seats.confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "o-1" });
          expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "o-1", seatIds: ["A1", "A2"] });
          // Read right after the answer: WAIT said the replica had it, so it does.
          expect(await onReplica(replica, eventId, hold.holdId)).toMatch(/\|o-1\|A1,A2$/);
        }),
      );
      expect(server.waitRedis?.nodes.sort()).toEqual(events.map((e) => `127.0.0.1:${e.primary}`).sort());
    });

    it("load the seat library again on a primary that lost it, and still wait", async () => {
      const { eventId, primary, replica } = (await eventsOnDistinctShards(1))[0]!;
      const seats = server.client(SeatService);
      const hold = await heldSeats(eventId);
      const { hold: first } = await seats.holdSeats({ eventId, userId: "bob", selection: { case: "seats", value: { seatIds: ["A3"] } } });
      // A sale first, so the waiting connections to that primary have loaded the library before it goes.
      await seats.confirmHold({ eventId, holdId: first!.holdId, userId: "bob", orderId: "o-b" });
      const node = cluster.connect(primary);
      try {
        await node.function("FLUSH", "SYNC");
        const sold = await seats.confirmHold({ eventId, holdId: hold.holdId, userId: "ann", orderId: "o-f" });
        expect(sold.hold).toMatchObject({ state: HoldState.CONFIRMED, orderId: "o-f" });
        expect(await onReplica(replica, eventId, hold.holdId)).toMatch(/\|o-f\|A1,A2$/);
        expect(Object.keys(await listLibrary(node, loadSeatScripts().name))).not.toHaveLength(0);
      } finally {
        node.disconnect();
      }
    });

    it("answer NOT_REPLICATED while the shard's replica is frozen, and OK on the other shards meanwhile; the same order converges once it is back", async () => {
      const [frozen, other] = (await eventsOnDistinctShards(2)) as [Shard, Shard];
      const seats = server.client(SeatService);
      const [hold, otherHold] = await Promise.all([heldSeats(frozen.eventId), heldSeats(other.eventId)]);
      const request = { eventId: frozen.eventId, holdId: hold.holdId, userId: "ann", orderId: "o-2" };

      cluster.freeze(frozen.replica);
      let refused: Failure;
      try {
        const sold = seats.confirmHold({ eventId: other.eventId, holdId: otherHold.holdId, userId: "ann", orderId: "o-2" });
        refused = await failure(seats.confirmHold(request));
        expect((await sold).hold?.state).toBe(HoldState.CONFIRMED);
      } finally {
        cluster.thaw(frozen.replica);
      }
      // No false OK: the seats are sold on the primary, but the caller hears it is not safe yet.
      expect(refused).toMatchObject({ code: Code.Unavailable, reason: "NOT_REPLICATED", metadata: { acked: "0", required: "1", hold_id: hold.holdId } });
      expect(await onReplica(other.replica, other.eventId, otherHold.holdId)).toMatch(/\|o-2\|A1,A2$/);

      await cluster.caughtUp(frozen.replica);
      const retried = await seats.confirmHold(request);
      expect(retried.hold).toMatchObject({ holdId: hold.holdId, state: HoldState.CONFIRMED, orderId: "o-2", seatIds: ["A1", "A2"] });
      expect(await onReplica(frozen.replica, frozen.eventId, hold.holdId)).toMatch(/\|o-2\|A1,A2$/);
      // Sold once.
      const after = await seats.getAvailability({ eventId: frozen.eventId });
      expect(after.availability?.event).toMatchObject({ capacity: 4, sold: 2, held: 0, available: 2 });
    });

    it("send a sale refused with MOVED once more, with its WAIT, to the primary the reply names", async () => {
      const [shard, elsewhere] = (await eventsOnDistinctShards(2)) as [Shard, Shard];
      const logger = pino({ level: "silent" });
      const connections = new ClusterWaitConnections(server.redis, { commandTimeoutMs: 2_000, waitTimeoutMs: WAIT_TIMEOUT_MS, logger });
      onTestFinished(() => connections.close());
      let refreshes = 0;
      // Every sale first goes to another shard's primary, as after a failover the slot table has not caught up with.
      const stale: ReplicaWaitConnections = {
        route: () => connections.at(`127.0.0.1:${elsewhere.primary}`),
        at: (node) => connections.at(node),
        moved: () => {
          refreshes += 1;
          connections.moved();
        },
        close: () => connections.close(),
      };
      const store = new SeatStore(server.redis, { keyPrefix: server.prefix, confirmWait: { connections: stale, policy: { replicas: 1, timeoutMs: WAIT_TIMEOUT_MS } } });
      const hold = await heldSeats(shard.eventId);
      const movedBefore = await movedReplies(elsewhere.primary);

      const sold = await store.confirm(shard.eventId, hold.holdId, "ann", "o-m");
      expect(sold).toMatchObject({ kind: "confirmed", hold: { orderId: "o-m" } });
      expect(await movedReplies(elsewhere.primary)).toBe(movedBefore + 1);
      expect(refreshes).toBe(1);
      // Waited for where it ran: that shard's replica has the sale.
      expect(await onReplica(shard.replica, shard.eventId, hold.holdId)).toMatch(/\|o-m\|A1,A2$/);
      expect(connections.nodes.sort()).toEqual([`127.0.0.1:${elsewhere.primary}`, `127.0.0.1:${shard.primary}`].sort());
    });
  });

  describe("a primary killed while sales wait for its replica", () => {
    const HOLDS = 40;
    const WORKERS = 4;
    /** ConfirmHold calls answered OK before the primary is killed. */
    const KILL_AFTER = 12;

    const prepare = (eventId: string): Promise<SeatHold[]> => holdEverySeat(server.client(SeatService), eventId, HOLDS);

    it(
      "keeps every sale it answered OK, sells nothing twice, never answers INTERNAL, and recovers by itself",
      async () => {
        const [victim, other] = (await eventsOnDistinctShards(2)) as [Shard, Shard];
        const sales = [
          { ...victim, holds: await prepare(victim.eventId) },
          { ...other, holds: await prepare(other.eventId) },
        ];
        const seats = server.client(SeatService);
        const confirm = (eventId: string, hold: { holdId: string; userId: string }): Promise<unknown> =>
          seats.confirmHold({ eventId, holdId: hold.holdId, userId: hold.userId, orderId: `order-${hold.holdId}` });

        const failOver = async (): Promise<void> => {
          // No waiting for the replica to catch up: whatever it has not acknowledged, no caller heard OK for.
          await cluster.kill(victim.primary);
          await cluster.promote(victim.replica);
        };
        const { confirmedOk, failures } = await confirmThroughFailover(seats, sales, { workers: WORKERS, killAfter: KILL_AFTER, failOver, describe: failureOf });
        expect(failures.size).toBeGreaterThan(0);
        // The store away, or the sale not (yet) on a replica: UNAVAILABLE either way, to retry; never INTERNAL.
        const kinds = new Set([...failures.values()].map(({ code, reason, message }) => `${Code[code]} ${reason ?? `(no reason: ${message})`}`));
        expect([...kinds].filter((kind) => kind !== "Unavailable BACKEND_UNAVAILABLE" && kind !== "Unavailable NOT_REPLICATED")).toEqual([]);

        await cluster.waitHealthy();
        // Nothing but the monitor's own checks brings the service back.
        await server.untilAvailable();
        expect((await server.client(Health).check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);

        // Before any retry: every sale answered OK is a sale on the promoted replica.
        for (const sale of sales) {
          for (const hold of sale.holds.filter((h) => confirmedOk.has(h.holdId))) {
            const got = (await seats.getHold({ eventId: sale.eventId, holdId: hold.holdId, userId: hold.userId })).hold;
            expect(got?.state, `${hold.holdId} of ${sale.eventId}`).toBe(HoldState.CONFIRMED);
          }
        }
        // The promoted primary has no replica yet: still no false OK.
        const retry = sales[0]!.holds.find((h) => failures.has(h.holdId));
        expect(retry).toBeDefined();
        expect(await failure(confirm(victim.eventId, retry!))).toMatchObject({ code: Code.Unavailable, reason: "NOT_REPLICATED", metadata: { acked: "0" } });

        // The killed node comes back empty as the promoted one's replica; the failed sales go through, retried as they were.
        await cluster.restart(victim.primary);
        expect(await cluster.waitReplica(victim.primary)).toBe(victim.replica);
        await cluster.waitHealthy();
        for (const sale of sales) {
          for (const hold of sale.holds.filter((h) => failures.has(h.holdId))) {
            await confirm(sale.eventId, hold);
          }
        }
        // Every seat counted once, none sold twice.
        await expectEverySeatSold(seats, sales);
        // And on the new replica of the victim's shard, the node that was killed.
        await cluster.caughtUp(victim.primary);
        for (const hold of sales[0]!.holds) {
          const record = await onReplica(victim.primary, victim.eventId, hold.holdId);
          expect(record?.endsWith(`|order-${hold.holdId}|${hold.seat}`), `${hold.holdId}: ${record}`).toBe(true);
        }
        // Waiting connections only to the primaries of now.
        const primaries = (await cluster.shards()).map((shard) => `127.0.0.1:${shard.primary}`);
        expect(server.waitRedis?.nodes.every((node) => primaries.includes(node))).toBe(true);
      },
      120_000,
    );
  });
}
