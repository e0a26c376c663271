import { Cluster, type ClusterOptions, type Redis } from "ioredis";
import type { Logger } from "pino";
import { CONNECT_TIMEOUT_MS, reconnectDelayMs } from "./redis-client.js";

/**
 * What every store, runner and reader talks to: one Redis server (`Redis`)
 * or a Redis Cluster (`Cluster`). Both route each command by its keys, and
 * every script and pipeline touches the keys of one event only, which share
 * the event's `{hash tag}`: on a cluster each lands on the primary of that
 * event's slot, and different events spread over the shards.
 */
export type RedisConnection = Redis | Cluster;

/** A node of a cluster seed list or of the slot table. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/** Number of hash slots of every Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

export function isCluster(redis: RedisConnection): redis is Cluster {
  return redis instanceof Cluster;
}

/** `host:port`, as the slot table and the connection pool name a node. */
export function nodeKey(node: Redis): string {
  return `${node.options.host ?? "localhost"}:${node.options.port ?? 6379}`;
}

/**
 * The servers that hold data: the one server, or the connection to every
 * primary the cluster's slot table currently knows. What a Functions library
 * is loaded on (replicas receive it from their primary).
 */
export function primaries(redis: RedisConnection): Redis[] {
  return isCluster(redis) ? redis.nodes("master") : [redis];
}

/**
 * The ioredis options of a cluster client, in the spirit of
 * `redisClientOptions`: a command fails fast and runs at most once.
 *
 * - Each node connection takes the single-node options (command timeout,
 *   no replays), except that ioredis manages node reconnection itself.
 * - `enableOfflineQueue: false`: while the cluster client has no slot table
 *   (starting, or every node lost), commands fail at once.
 * - MOVED and ASK are followed (the command did not run where it was sent),
 *   as is TRYAGAIN during a resharding; a command whose connection closed
 *   (`retryDelayOnFailover: 0`) or that met CLUSTERDOWN
 *   (`retryDelayOnClusterDown: 0`) fails at once: the first may already
 *   have run, and in both cases the caller is better served by UNAVAILABLE
 *   now than by a wait until the cluster has failed over.
 * - `clusterRetryStrategy`: reconnect to the seed nodes quickly and forever.
 */
export function redisClusterOptions(commandTimeoutMs: number): ClusterOptions {
  return {
    lazyConnect: true,
    // Automatic pipelines batch the commands of every slot a node serves; a
    // batch that meets MOVED or ASK for some of its commands only is handed
    // back as is instead of being redirected. One command at a time, each
    // redirection is followed.
    enableAutoPipelining: false,
    enableOfflineQueue: false,
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 50,
    clusterRetryStrategy: (times: number) => reconnectDelayMs(times),
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    redisOptions: {
      commandTimeout: commandTimeoutMs,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
    },
  };
}

export interface RedisClusterClientOptions {
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * A cluster client seeded with `nodes`, not yet connected: await
 * `connectRedisCluster` before serving. Errors are logged once per distinct failure
 * (per node), topology changes at debug.
 */
export function createRedisCluster(nodes: readonly ClusterNode[], { commandTimeoutMs, logger }: RedisClusterClientOptions): Cluster {
  const cluster = new Cluster(
    nodes.map((node) => ({ host: node.host, port: node.port })),
    redisClusterOptions(commandTimeoutMs),
  );
  const lastErrors = new Map<string, string>();
  const report = (source: string, err: Error): void => {
    if (lastErrors.get(source) !== err.message) {
      lastErrors.set(source, err.message);
      logger.warn({ err, node: source === "" ? undefined : source }, "redis cluster connection error");
    }
  };
  cluster.on("error", (err: Error) => report("", err));
  cluster.on("node error", (err: Error, key: string) => report(key, err));
  cluster.on("ready", () => {
    if (lastErrors.size > 0) {
      lastErrors.clear();
      logger.info("redis cluster ready again");
    }
  });
  cluster.on("+node", (node: Redis) => {
    logger.debug({ node: nodeKey(node) }, "redis cluster node added");
    acknowledgeAsking(node);
  });
  cluster.on("-node", (node: Redis) => logger.debug({ node: nodeKey(node) }, "redis cluster node removed"));
  return cluster;
}

/**
 * ioredis follows an ASK redirection with `ASKING` then the command on the
 * target node's connection, and drops the promise of `ASKING`. When that
 * connection closes before the reply (a refresh of the slot table drops a
 * node that owns no slot yet, in the middle of a resharding), both are
 * rejected: the command to its caller, `ASKING` to nobody, an unhandled
 * rejection that would end the process. Its failure is the command's.
 */
function acknowledgeAsking(node: Redis): void {
  const asking = node.asking.bind(node);
  node.asking = ((...args: Parameters<Redis["asking"]>) => {
    const reply = asking(...args);
    reply.catch(() => {
      // The redirected command itself fails (or succeeds) on its own.
    });
    return reply;
  }) as Redis["asking"];
}

/**
 * Connects a client made by `createRedisCluster` and resolves once every
 * primary answers, so the first calls served meet ready connections: ioredis
 * opens a node's connection on its first command, and with the offline queue
 * off it refuses the commands that meet that connection still opening.
 * (Connections to nodes that appear later, after a failover or a resharding,
 * are opened by the Redis monitor's first check of them, or by the first
 * command redirected there.)
 */
export async function connectRedisCluster(cluster: Cluster): Promise<void> {
  await cluster.connect();
  await Promise.all(cluster.nodes("master").map((node) => node.ping()));
}

/**
 * Parses `REDIS_CLUSTER_NODES`: `host:port` entries separated by commas
 * (IPv6 hosts in brackets: `[::1]:7000`). Returns the nodes or the problems.
 */
export function parseClusterNodes(spec: string): { nodes: ClusterNode[] } | { problems: string[] } {
  const nodes: ClusterNode[] = [];
  const problems: string[] = [];
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      problems.push(`REDIS_CLUSTER_NODES entries must be host:port, got "${entry}"`);
      continue;
    }
    nodes.push({ host: (match[1] as string).replace(/^\[(.*)\]$/, "$1"), port });
  }
  return problems.length > 0 ? { problems } : { nodes };
}

/**
 * A connection of its own for sharded Pub/Sub (it enters subscriber mode). A
 * subscription may wait for the connection (the offline queue): it is not a
 * call with a deadline. On a cluster each channel is subscribed on the shard
 * that owns its slot (the event's hash tag).
 */
export function subscriberConnection(redis: RedisConnection): RedisConnection {
  if (!isCluster(redis)) {
    return redis.duplicate({ lazyConnect: true, enableOfflineQueue: true });
  }
  const subscriber = redis.duplicate(undefined, { shardedSubscribers: true, lazyConnect: true, enableOfflineQueue: true });
  // The subscriber's slot table is its own, refreshed only by what its subscriptions meet: a
  // MOVED reply, a SUNSUBSCRIBE pushed by a node that lost the slot, a lost node (then with
  // backoff, up to 2 s). The command connection often learns of a failover or a resharding
  // first (the event's scripts get MOVED there; the health monitor probes every slot): the
  // subscriber's table is refreshed with it, and ioredis subscribes each channel whose slot
  // moved again, on the new owner.
  const follow = (): void => {
    if (subscriber.status === "ready") subscriber.refreshSlotsCache();
  };
  redis.on("refresh", follow);
  subscriber.once("end", () => redis.off("refresh", follow));
  return subscriber;
}
