import type { Cluster, Redis } from "ioredis";
import { CLUSTER_SLOTS, nodeKey } from "./redis-cluster.js";

/**
 * What "Redis is reachable" means on a cluster: every one of the 16,384 slots
 * is owned, in this client's slot table, by a primary that answers and
 * reports `cluster_state:ok`. Then any event's scripts can run; until then
 * some events' calls would fail, so the whole service reports NOT_SERVING and
 * refuses calls (the backend guard) rather than answer some events and not
 * others by chance.
 *
 * Resolves with undefined when that holds, else with an Error saying what is
 * missing. A failed probe also asks the client to refresh its slot table, so
 * a replica promoted in the meantime (a failover) is found without waiting
 * for a MOVED reply, which no refused call would provoke.
 */
export async function probeCluster(cluster: Cluster): Promise<Error | undefined> {
  const failure = await coverage(cluster);
  if (failure !== undefined) {
    cluster.refreshSlotsCache();
  }
  return failure;
}

async function coverage(cluster: Cluster): Promise<Error | undefined> {
  if (cluster.status !== "ready") {
    return new Error(`the cluster client is ${cluster.status}`);
  }
  const slotsOf = new Map<string, number>();
  let unowned = 0;
  for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined) {
      unowned += 1;
    } else {
      slotsOf.set(owner, (slotsOf.get(owner) ?? 0) + 1);
    }
  }
  if (unowned > 0) {
    return new Error(`${unowned} slots have no primary`);
  }
  const connections = new Map(cluster.nodes("all").map((node) => [nodeKey(node), node]));
  const owners = [...slotsOf.keys()];
  const problems = await Promise.all(owners.map((owner) => checkPrimary(owner, connections.get(owner))));
  const down: string[] = [];
  let unserved = 0;
  problems.forEach((problem, i) => {
    if (problem !== undefined) {
      down.push(problem);
      unserved += slotsOf.get(owners[i] as string) ?? 0;
    }
  });
  if (down.length > 0) {
    return new Error(`${unserved} slots unserved: ${down.join("; ")}`);
  }
  return undefined;
}

/** Undefined when the primary answers CLUSTER INFO with `cluster_state:ok`, else why not. */
async function checkPrimary(owner: string, node: Redis | undefined): Promise<string | undefined> {
  if (node === undefined) {
    return `${owner} is not connected`;
  }
  try {
    const info = String(await node.cluster("INFO"));
    return /^cluster_state:ok\r?$/m.test(info) ? undefined : `${owner} reports the cluster down`;
  } catch (err) {
    return `${owner}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
