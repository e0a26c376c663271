import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";
import { keySlot } from "./cluster-slot.js";
import { closeRedisClient, createRedisClient } from "./redis-client.js";
import { CLUSTER_SLOTS } from "./redis-cluster.js";

/**
 * Connections kept for waiting writes, per primary. `WAIT` blocks its
 * connection until it answers, so the calls behind one WAIT queue behind it;
 * with a replica gone, each waits out the whole timeout. Several connections
 * let that many waits run at once.
 */
export const REPLICA_WAIT_CONNECTIONS = 4;

/** The primary a waiting write goes to, and the connections of its own to it. */
export interface WaitNode {
  /** `host:port` of a cluster primary; `""` for the one server. */
  readonly name: string;
  readonly clients: readonly Redis[];
  /**
   * While the clients make their first attempt to connect (a primary's
   * first waiting write): settles, never rejects, once each attempt has. A
   * call waits for it, then fails fast if its connection is down. Undefined
   * after that, and for connections connected before serving.
   */
  readonly connecting: Promise<void> | undefined;
}

/**
 * Where the writes that wait for replicas run: connections used for nothing
 * else, to the primary that serves the write's keys, since `WAIT` counts the
 * replicas of the node it reaches and the writes of the connection it is
 * sent on.
 */
export interface ReplicaWaitConnections {
  /**
   * The primary that serves `key`'s slot now, with its connections. Throws
   * (an error the call policy reads as Redis unavailable) when no primary is
   * known for the slot.
   */
  route(key: string): WaitNode;
  /** The primary `host:port` (as a MOVED reply names it), with its connections. */
  at(node: string): WaitNode;
  /**
   * A node answered MOVED, or its connection failed: the slot may be served
   * elsewhere now (a resharding, a failover); read the slot table again.
   */
  moved(): void;
  /** Closes every connection. */
  close(): Promise<void>;
}

export interface WaitConnectionOptions {
  /** The usual command timeout; each waiting command may take the wait timeout on top of it. */
  readonly commandTimeoutMs: number;
  readonly waitTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * `REPLICA_WAIT_CONNECTIONS` connections of their own to `url`, not yet
 * connected: each command may take the wait timeout on top of the usual
 * command timeout.
 */
export function createReplicaWaitClients(url: string, { commandTimeoutMs, waitTimeoutMs, logger }: WaitConnectionOptions): Redis[] {
  return Array.from({ length: REPLICA_WAIT_CONNECTIONS }, () =>
    createRedisClient(url, { commandTimeoutMs: commandTimeoutMs + waitTimeoutMs, logger }),
  );
}

/** The waiting connections to one Redis server (`REDIS_URL`): call `connect()` before serving. */
export class ServerWaitConnections implements ReplicaWaitConnections {
  readonly clients: readonly Redis[];
  readonly #node: WaitNode;

  constructor(url: string, options: WaitConnectionOptions) {
    this.clients = createReplicaWaitClients(url, options);
    this.#node = { name: "", clients: this.clients, connecting: undefined };
  }

  async connect(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.connect()));
  }

  route(): WaitNode {
    return this.#node;
  }

  at(): WaitNode {
    return this.#node;
  }

  moved(): void {
    // One server owns every key.
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map(closeRedisClient));
  }
}

/**
 * The waiting connections to the primaries of a Redis Cluster, opened on a
 * primary's first waiting write and routed by `cluster`'s slot table: the
 * service's shared cluster client, whose table follows failovers and
 * reshardings (MOVED replies, and the Redis monitor's refresh after a failed
 * check). `moved()` asks it to refresh. Whenever it has refreshed, the
 * connections to nodes that no longer own a slot (a primary failed over, a
 * node emptied) are closed.
 *
 * While the table still names a primary that is gone, its connections are
 * down, and a write fails at once (no offline queue): UNAVAILABLE, as for any
 * call while Redis is unreachable.
 */
export class ClusterWaitConnections implements ReplicaWaitConnections {
  readonly #cluster: Cluster;
  readonly #options: WaitConnectionOptions;
  readonly #nodes = new Map<string, WaitNode>();
  readonly #onRefresh = (): void => this.#closeFormerPrimaries();

  constructor(cluster: Cluster, options: WaitConnectionOptions) {
    this.#cluster = cluster;
    this.#options = options;
    cluster.on("refresh", this.#onRefresh);
  }

  route(key: string): WaitNode {
    const slot = keySlot(key);
    const owner = this.#cluster.slots[slot]?.[0];
    if (owner === undefined) {
      throw new Error(`Cluster has no known primary for slot ${slot}`);
    }
    return this.at(owner);
  }

  at(node: string): WaitNode {
    return this.#nodes.get(node) ?? this.#open(node);
  }

  moved(): void {
    this.#cluster.refreshSlotsCache();
  }

  /** The primaries that have waiting connections now (`host:port`). */
  get nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  async close(): Promise<void> {
    this.#cluster.off("refresh", this.#onRefresh);
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    await Promise.all(nodes.flatMap((node) => node.clients.map(closeRedisClient)));
  }

  #open(name: string): WaitNode {
    const colon = name.lastIndexOf(":");
    const host = name.slice(0, colon);
    const port = Number(name.slice(colon + 1));
    const { commandTimeoutMs, waitTimeoutMs, logger } = this.#options;
    const clients = Array.from({ length: REPLICA_WAIT_CONNECTIONS }, () =>
      createRedisClient(
        // The cluster's node options (credentials, TLS), this node's address.
        { ...this.#cluster.options.redisOptions, host, port },
        { commandTimeoutMs: commandTimeoutMs + waitTimeoutMs, logger: logger.child({ node: name }) },
      ),
    );
    const node: { name: string; clients: Redis[]; connecting: Promise<void> | undefined } = { name, clients, connecting: undefined };
    node.connecting = Promise.allSettled(clients.map((client) => client.connect())).then(() => {
      node.connecting = undefined;
    });
    this.#nodes.set(name, node);
    return node;
  }

  #closeFormerPrimaries(): void {
    const owners = new Set<string>();
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      const owner = this.#cluster.slots[slot]?.[0];
      if (owner !== undefined) owners.add(owner);
    }
    for (const [name, node] of this.#nodes) {
      if (!owners.has(name)) {
        this.#nodes.delete(name);
        node.clients.forEach((client) => void closeRedisClient(client));
      }
    }
  }
}
