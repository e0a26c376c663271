import { Redis } from "ioredis";
import { startOwnRedis, type OwnRedis } from "./own-redis.js";

/**
 * A primary and one replica of a test's own: two redis-server processes on
 * free ports, the second a REPLICAOF the first, to break replication on
 * purpose. Only these two processes are ever paused or stopped.
 */
export interface ReplicatedRedis {
  readonly primaryUrl: string;
  readonly replicaUrl: string;
  /** A client of the primary, for checks (closed by `stop`). */
  readonly primary: Redis;
  /** SIGSTOP: the primary still counts the replica as connected, but it acknowledges nothing. */
  pauseReplica(): void;
  /** SIGCONT; then waits until the replica acknowledged everything the primary wrote. */
  resumeReplica(): Promise<void>;
  /** SIGKILL: the replica is gone. */
  killReplica(): Promise<void>;
  /** A fresh, empty replica on the same port, replicating again and caught up. */
  restartReplica(): Promise<void>;
  /** Reads a hash field on the replica (what a failover would keep). */
  replicaHget(key: string, field: string): Promise<string | null>;
  /** Stops both servers. */
  stop(): Promise<void>;
}

/** Most time the replica may take to (re)connect and catch up. */
const SYNC_TIMEOUT_MS = 30_000;

export async function startReplicatedRedis(): Promise<ReplicatedRedis> {
  const [primaryServer, replicaServer] = await Promise.all([startOwnRedis(), startOwnRedis()]);
  const primary = new Redis(primaryServer.url);
  const primaryPort = Number(new URL(primaryServer.url).port);
  // A full sync starts at once instead of waiting five seconds for more replicas to come along.
  await primary.config("SET", "repl-diskless-sync-delay", "0");

  const follow = async (server: OwnRedis): Promise<void> => {
    const replica = new Redis(server.url);
    try {
      await replica.replicaof("127.0.0.1", primaryPort);
    } finally {
      replica.disconnect();
    }
    await caughtUp(primary);
  };
  await follow(replicaServer);

  return {
    primaryUrl: primaryServer.url,
    replicaUrl: replicaServer.url,
    primary,
    pauseReplica: () => replicaServer.freeze(),
    async resumeReplica() {
      replicaServer.thaw();
      await caughtUp(primary);
    },
    killReplica: () => replicaServer.kill(),
    async restartReplica() {
      await replicaServer.restart();
      await follow(replicaServer);
    },
    async replicaHget(key, field) {
      const replica = new Redis(replicaServer.url);
      try {
        return await replica.hget(key, field);
      } finally {
        replica.disconnect();
      }
    },
    async stop() {
      primary.disconnect();
      await Promise.all([primaryServer.stop(), replicaServer.stop()]);
    },
  };
}

/**
 * Writes a marker on the primary and blocks in `WAIT 1` until a replica
 * acknowledged it: the replica is linked and has everything written before.
 */
async function caughtUp(primary: Redis): Promise<void> {
  await primary.set("replicated-redis:marker", String(Date.now()));
  const acked = await primary.wait(1, SYNC_TIMEOUT_MS);
  if (acked < 1) {
    throw new Error(`the replica did not catch up within ${SYNC_TIMEOUT_MS} ms`);
  }
}
