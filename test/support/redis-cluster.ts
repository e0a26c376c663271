import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { findRedisServer } from "../../src/redis/embedded-redis.js";

/**
 * A local Redis Cluster of 3 primaries and 3 replicas, each a `redis-server`
 * child process on 127.0.0.1 with its own temporary directory: the cluster
 * tests' backend, started once per test file. Nothing is persisted but each
 * node's `nodes.conf`, so a node killed and started again rejoins the
 * cluster under its old identity (empty, as a restarted cache would).
 * Only the processes started here are ever signalled.
 */
export interface LocalCluster {
  /** Every node's port, in creation order (the first three start as primaries; added nodes last). */
  readonly ports: readonly number[];
  /** `host:port` seeds for REDIS_CLUSTER_NODES: every node. */
  readonly seeds: string;
  /** A plain connection to one node (not cluster-aware); the caller closes it. */
  connect(port: number): Redis;
  /** The port of the primary that owns `key`'s slot, asked of a live node. */
  ownerOf(key: string): Promise<number>;
  /** Live primaries and their replicas, asked of a live node. */
  shards(): Promise<Array<{ readonly primary: number; readonly replicas: number[] }>>;
  /** SIGKILL, and waits for the process to be gone. */
  kill(port: number): Promise<void>;
  /** SIGSTOP: the node keeps its connections and answers nothing (a replica acknowledges nothing). */
  freeze(port: number): void;
  /** SIGCONT; harmless when not frozen. */
  thaw(port: number): void;
  /** Starts a killed node again on its port and directory. */
  restart(port: number): Promise<void>;
  /** Starts one more node, empty, and has it join the cluster as a primary without slots; resolves with its port. */
  addNode(): Promise<number>;
  /**
   * Moves `slot` and its keys to the node on `to`, the way a resharding does:
   * IMPORTING / MIGRATING, MIGRATE in batches of `batch` keys, then the new
   * owner announced to every node.
   */
  moveSlot(slot: number, to: number, batch?: number): Promise<void>;
  /** The first step of `moveSlot`: `slot` IMPORTING on `to`, MIGRATING on its owner; resolves with the owner's port. */
  beginMove(slot: number, to: number): Promise<number>;
  /** MIGRATE of `keys` from `from` to `to` (the middle of `moveSlot`). */
  migrate(from: number, to: number, keys: readonly string[]): Promise<void>;
  /** The last step of `moveSlot`: the slot's remaining keys migrated, then `to` announced as its owner. */
  finishMove(slot: number, from: number, to: number, batch?: number): Promise<void>;
  /**
   * SIGKILL of the primary on `port` at a moment its replicas hold every write
   * it acknowledged: writes paused (`CLIENT PAUSE WRITE`), then each replica's
   * replication offset waited for until it reaches the primary's.
   */
  killCaughtUp(port: number): Promise<void>;
  /**
   * `CLUSTER FAILOVER TAKEOVER` on the replica on `port`, whose primary the
   * test has killed: it takes over its primary's slots at once, without
   * waiting for the cluster to declare the primary failed (a node timeout
   * away) and without an election. (FORCE holds one: on a busy machine a vote
   * that came late, or a primary that voted for another failover of the
   * same shard less than two node timeouts before, left the slots without a
   * primary past `waitHealthy`'s 30 s.) Resolves once the replica accepted
   * the order.
   */
  promote(port: number): Promise<void>;
  /**
   * Resolves once every live node reports `cluster_state:ok`, knows every
   * node, its replicas are in sync, and all live nodes agree on the
   * topology: the role, the primary and the slots of every node.
   */
  waitHealthy(): Promise<void>;
  /** Resolves once the replica on `port` has applied everything its primary had written when this was called. */
  caughtUp(port: number): Promise<void>;
  /** Resolves once the node on `port` is a replica in sync with its primary; resolves with that primary's port. */
  waitReplica(port: number): Promise<number>;
  /** Stops every node and removes the directories. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const BUS_OFFSET = 10_000;
const NODES = 6;
const READY_LINE = "Ready to accept connections";
const READY_TIMEOUT_MS = 10_000;
const HEALTHY_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
const run = promisify(execFile);

interface Node {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess | undefined;
  exited: Promise<unknown>;
}

export async function startLocalCluster(): Promise<LocalCluster> {
  const binary = await findRedisServer();
  if (binary === undefined) throw new Error("redis-server not found: the cluster tests need it on PATH");
  const nodes = new Map<number, Node>();
  const killAll = (): void => {
    for (const node of nodes.values()) node.child?.kill("SIGKILL");
  };
  process.once("exit", killAll);

  const launch = async (node: Node): Promise<void> => {
    const child = spawn(binary, [
      "--port", String(node.port),
      "--bind", HOST,
      "--cluster-enabled", "yes",
      "--cluster-config-file", "nodes.conf",
      // Long: the tests promote replicas themselves (CLUSTER FAILOVER), never the cluster behind their back.
      "--cluster-node-timeout", "15000",
      // A replica's full sync starts at once instead of waiting 5 s for more replicas.
      "--repl-diskless-sync-delay", "0",
      "--save", "",
      "--appendonly", "no",
      "--dir", node.dir,
      "--daemonize", "no",
      "--logfile", "",
    ], { cwd: node.dir, stdio: ["ignore", "pipe", "pipe"] });
    node.child = child;
    node.exited = once(child, "exit");
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${node.port} not ready: ${log.slice(-500)}`)), READY_TIMEOUT_MS);
      const capture = (chunk: Buffer): void => {
        if (log.includes(READY_LINE)) return;
        log = (log + chunk.toString("utf8")).slice(-4_096);
        if (log.includes(READY_LINE)) {
          clearTimeout(timer);
          resolve();
        }
      };
      // Drained for the node's whole life: a full pipe would block it.
      child.stdout?.on("data", capture);
      child.stderr?.on("data", capture);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${node.port} exited (code ${code}): ${log.slice(-500)}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    for (const node of nodes.values()) {
      if (node.child && node.child.exitCode === null && node.child.signalCode === null) {
        // A frozen node would never act on SIGTERM.
        node.child.kill("SIGCONT");
        node.child.kill("SIGTERM");
      }
    }
    await Promise.all([...nodes.values()].map((node) => node.exited));
    await Promise.all([...nodes.values()].map((node) => rm(node.dir, { recursive: true, force: true })));
    process.removeListener("exit", killAll);
  };

  try {
    while (nodes.size < NODES) {
      const port = await pickClusterPort(new Set(nodes.keys()));
      const node: Node = { port, dir: await mkdtemp(join(tmpdir(), "redis-cluster-")), child: undefined, exited: Promise.resolve() };
      try {
        await launch(node);
        nodes.set(port, node);
      } catch (err) {
        // Taken between the check and the bind: another port.
        node.child?.kill("SIGKILL");
        await node.exited;
        await rm(node.dir, { recursive: true, force: true });
        if (!String(err).includes("Address already in use")) throw err;
      }
    }
    const ports = [...nodes.keys()];
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `${HOST}:${p}`), "--cluster-replicas", "1", "--cluster-yes"]);
    const addNode = async (): Promise<number> => {
      for (;;) {
        const port = await pickClusterPort(new Set(nodes.keys()));
        const node: Node = { port, dir: await mkdtemp(join(tmpdir(), "redis-cluster-")), child: undefined, exited: Promise.resolve() };
        try {
          await launch(node);
          nodes.set(port, node);
          return port;
        } catch (err) {
          node.child?.kill("SIGKILL");
          await node.exited;
          await rm(node.dir, { recursive: true, force: true });
          if (!String(err).includes("Address already in use")) throw err;
        }
      }
    };
    const cluster = localCluster(ports, nodes, launch, stop, addNode);
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

function localCluster(
  ports: number[],
  nodes: Map<number, Node>,
  launch: (node: Node) => Promise<void>,
  stop: () => Promise<void>,
  startNode: () => Promise<number>,
): LocalCluster {
  const live = (): number[] => ports.filter((p) => {
    const child = nodes.get(p)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  });
  const ask = async <T>(use: (redis: Redis) => Promise<T>, port = live()[0]): Promise<T> => {
    const redis = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await redis.connect();
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  };
  const nodeId = (port: number): Promise<string> => ask(async (redis) => String(await redis.call("CLUSTER", "MYID")), port);
  return {
    ports,
    seeds: ports.map((p) => `${HOST}:${p}`).join(","),
    connect: (port) => new Redis({ host: HOST, port }),
    async ownerOf(key) {
      return ask(async (redis) => {
        const slot = Number(await redis.cluster("KEYSLOT", key));
        const ranges = (await redis.cluster("SLOTS")) as unknown as Array<[number, number, [string, number]]>;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`slot ${slot} has no owner`);
        return range[2][1];
      });
    },
    async shards() {
      return ask(async (redis) => {
        const lines = String(await redis.cluster("NODES")).trim().split("\n").map((line) => line.split(" "));
        const portOf = (address: string): number => Number(address.split("@")[0]?.split(":")[1]);
        const alive = (flags: string): boolean => !flags.split(",").some((f) => f === "fail" || f === "fail?" || f === "handshake");
        const primaries = lines.filter((l) => l[2]?.includes("master") && alive(l[2]) && l.length > 8);
        return primaries.map((p) => ({
          primary: portOf(p[1] as string),
          replicas: lines.filter((l) => l[3] === p[0] && alive(l[2] as string)).map((l) => portOf(l[1] as string)),
        }));
      });
    },
    async kill(port) {
      const node = nodes.get(port);
      node?.child?.kill("SIGKILL");
      await node?.exited;
    },
    freeze(port) {
      nodes.get(port)?.child?.kill("SIGSTOP");
    },
    thaw(port) {
      nodes.get(port)?.child?.kill("SIGCONT");
    },
    async promote(port) {
      const node = this.connect(port);
      try {
        await node.cluster("FAILOVER", "TAKEOVER");
      } finally {
        node.disconnect();
      }
    },
    async killCaughtUp(port) {
      const replicas = (await this.shards()).find((shard) => shard.primary === port)?.replicas ?? [];
      if (replicas.length === 0) throw new Error(`${port} is not a primary with replicas`);
      await ask(async (redis) => {
        await redis.call("CLIENT", "PAUSE", String(HEALTHY_TIMEOUT_MS), "WRITE");
        // Paused: the offset stays put. (WAIT would not do: it counts the acknowledgements
        // of this connection's own writes, and this connection wrote nothing.)
        const offset = Number(/master_repl_offset:(\d+)/.exec(await redis.info("replication"))?.[1]);
        await until(async () => {
          const behind = await Promise.all(replicas.map(async (replica) => {
            const got = Number(/master_repl_offset:(\d+)/.exec(await ask((r) => r.info("replication"), replica))?.[1]);
            return got >= offset ? "" : `${replica} at ${got} of ${offset}`;
          }));
          return behind.filter((b) => b !== "").join("; ");
        });
      }, port);
      await this.kill(port);
    },
    async restart(port) {
      const node = nodes.get(port);
      if (!node) throw new Error(`no node on ${port}`);
      await launch(node);
    },
    async addNode() {
      const port = await startNode();
      await ask((redis) => redis.call("CLUSTER", "MEET", HOST, String(live()[0])), port);
      ports.push(port);
      await this.waitHealthy();
      return port;
    },
    async moveSlot(slot, to, batch = 10) {
      const from = await this.beginMove(slot, to);
      await this.finishMove(slot, from, to, batch);
    },
    async beginMove(slot, to) {
      const from = await ask(async (redis) => {
        const ranges = (await redis.cluster("SLOTS")) as unknown as Array<[number, number, [string, number]]>;
        return ranges.find(([first, last]) => slot >= first && slot <= last)?.[2][1];
      });
      if (from === undefined) throw new Error(`slot ${slot} has no owner`);
      const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)]);
      await ask((redis) => redis.call("CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId), to);
      await ask((redis) => redis.call("CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId), from);
      return from;
    },
    async migrate(from, to, keys) {
      if (keys.length > 0) await ask((redis) => redis.call("MIGRATE", HOST, String(to), "", "0", "5000", "KEYS", ...keys), from);
    },
    async finishMove(slot, from, to, batch = 10) {
      for (;;) {
        const keys = await ask(async (redis) => (await redis.call("CLUSTER", "GETKEYSINSLOT", String(slot), String(batch))) as string[], from);
        if (keys.length === 0) break;
        await this.migrate(from, to, keys);
      }
      const toId = await nodeId(to);
      // The new owner first, then the old one, then the rest (as redis-cli does). An old owner
      // left without slots may already have turned into the new owner's replica
      // (cluster-allow-replica-migration): it follows its primary's slot table.
      const primaries = (await this.shards()).map((shard) => shard.primary);
      for (const port of [to, from, ...primaries.filter((p) => p !== to && p !== from)]) {
        await ask((redis) => redis.call("CLUSTER", "SETSLOT", String(slot), "NODE", toId), port).catch((err: unknown) => {
          if (!(port === from && String(err).includes("SETSLOT only with masters"))) throw err;
        });
      }
    },
    async caughtUp(port) {
      const primary = await this.waitReplica(port);
      const offsetOf = (info: string): number => Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
      const target = offsetOf(await ask((redis) => redis.info("replication"), primary));
      await until(async () => {
        const got = offsetOf(await ask((redis) => redis.info("replication"), port));
        return got >= target ? "" : `${port} at ${got} of ${target}`;
      });
    },
    async waitReplica(port) {
      let primary = 0;
      await until(async () => {
        const replication = await ask((redis) => redis.info("replication"), port);
        primary = Number(/master_port:(\d+)/.exec(replication)?.[1]);
        return /role:slave/.test(replication) && /master_link_status:up/.test(replication) ? "" : `${port} is not a replica in sync`;
      });
      return primary;
    },
    async waitHealthy() {
      await until(async () => {
        const alive = live();
        const views = new Map<number, string>();
        const states = await Promise.all(alive.map((port) => ask(async (redis) => {
          const info = String(await redis.cluster("INFO"));
          const replication = String(await redis.info("replication"));
          const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]);
          const ok = /cluster_state:ok/.test(info) && known === ports.length;
          const synced = !/role:slave/.test(replication) || /master_link_status:up/.test(replication);
          views.set(port, topology(String(await redis.cluster("NODES"))));
          return ok && synced ? "" : `${port}: ${ok ? "replica not in sync" : `state not ok (${known} known)`}`;
        }, port).catch((err: unknown) => `${port}: ${String(err)}`)));
        // A node learns another's role from that node's own messages, which come at most every
        // node-timeout / 2: until then it may still see a replica as a primary without slots,
        // and refuse it its vote in a failover.
        const disagree = new Set(views.values()).size > 1 ? [`nodes disagree on the topology: ${[...views].map(([p, v]) => `${p} sees ${v}`).join(" | ")}`] : [];
        return [...states, ...disagree].filter((s) => s !== "").join("; ");
      });
    },
    stop,
  };
}

/**
 * One node's view of the cluster from its `CLUSTER NODES`, comparable with
 * another's: each node's id, role, primary and slots (not the flags that
 * differ by observer: myself, fail?, fail; nor the slots migrating through the observer).
 */
function topology(nodes: string): string {
  return nodes
    .trim()
    .split("\n")
    .map((line) => {
      const [id, , flags = "", primary, , , , , ...slots] = line.trim().split(" ");
      const role = flags.split(",").filter((f) => f === "master" || f === "slave" || f === "handshake" || f === "noaddr");
      return [id, role.join(","), primary, ...slots.filter((slot) => !slot.startsWith("["))].join(" ");
    })
    .sort()
    .join(", ");
}

/** Polls `check` (empty string: done) until it is done, or fails with its last answer after HEALTHY_TIMEOUT_MS. */
async function until(check: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  for (;;) {
    const last = await check().catch((err: unknown) => String(err));
    if (last === "") return;
    if (Date.now() > deadline) throw new Error(`cluster not ready after ${HEALTHY_TIMEOUT_MS} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A port that is free on loopback, with its cluster bus port (port + 10000) free too. */
async function pickClusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (;;) {
    // Below the usual ephemeral range, so the bus port stays under 65536.
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port) || taken.has(port - BUS_OFFSET) || taken.has(port + BUS_OFFSET)) continue;
    if ((await isFree(port)) && (await isFree(port + BUS_OFFSET))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}
