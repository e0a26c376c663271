/**
 * What one open WatchPosition stream holds in the service: starts a private
 * redis-server and the service (see `startService`, with `--heapsnapshot-signal`),
 * takes a heap snapshot, opens `BENCH_WATCHERS` streams (default 3,000) from
 * a client process, takes another, and prints the difference per stream by
 * constructor (self sizes: what the JS heap holds per stream; memory outside
 * it, such as nghttp2's per-stream state and socket buffers, shows only in
 * the RSS line).
 *
 *   PATH=/opt/node26/bin:$PATH npx tsx bench/stream-memory.ts
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { QueueStore } from "../src/queue/queue-store.js";
import { startEmbeddedRedis } from "../src/redis/embedded-redis.js";
import { ChildSet, rssBytes } from "./children.js";
import { PAUSED } from "./context.js";
import { startService } from "./service.js";
import type { WatchClientMessage, WatchJob } from "./watch-client.js";

const watchers = Number(process.env["BENCH_WATCHERS"] ?? 3_000);
const keep = process.env["BENCH_KEEP_SNAPSHOTS"] === "1";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per "type:name" of a snapshot (names of objects are their constructors). */
async function aggregate(file: string): Promise<Map<string, { size: number; count: number }>> {
  const heap = JSON.parse(await readFile(file, "utf8")) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf("type"), fields.indexOf("name"), fields.indexOf("self_size")];
  const out = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt] as number] as string;
    const name = type === "object" || type === "closure" || type === "native" ? (heap.strings[heap.nodes[i + nameAt] as number] as string) : "";
    const key = `${type}:${name.slice(0, 60)}`;
    const entry = out.get(key) ?? { size: 0, count: 0 };
    entry.size += heap.nodes[i + sizeAt] as number;
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

async function snapshot(pid: number, dir: string, before: readonly string[]): Promise<string> {
  process.kill(pid, "SIGUSR2");
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const files = (await readdir(dir)).filter((f) => f.endsWith(".heapsnapshot") && !before.includes(f));
    if (files.length > 0) {
      // Written when the file stops growing.
      const file = join(dir, files[0] as string);
      let size = -1;
      for (;;) {
        const now = (await readFile(file)).length;
        if (now === size && now > 0) return file;
        size = now;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

async function main(): Promise<void> {
  const children = new ChildSet();
  const redisServer = await startEmbeddedRedis();
  const redis = new Redis(redisServer.url, { enableAutoPipelining: true });
  const cwd = process.cwd();
  try {
    const service = await startService(children, {
      redisUrl: redisServer.url,
      watchIntervalMs: 250,
      nodeArgs: ["--heapsnapshot-signal=SIGUSR2"],
    });
    const store = new QueueStore(redis);
    const eventId = `mem-${randomBytes(4).toString("hex")}`;
    await store.configure(eventId, { state: PAUSED });
    for (let start = 0; start < watchers; start += 2_000) {
      await Promise.all(Array.from({ length: Math.min(2_000, watchers - start) }, (_, i) => store.join(eventId, `w-${start + i}`)));
    }
    const existing = await readdir(cwd);
    const first = await snapshot(service.child.pid, cwd, existing);
    const rss0 = rssBytes(service.child.pid);
    const job: WatchJob = { port: service.grpcPort, eventId, userPrefix: "w-", first: 0, count: watchers, sessions: 8 };
    const client = children.node("watch-client", "bench/watch-client.ts", { env: { BENCH_JOB: JSON.stringify(job) } });
    const ready = await client.message((m): m is Extract<WatchClientMessage, { kind: "ready" }> => (m as { kind?: string }).kind === "ready", 180_000);
    if (ready.endedEarly > 0) throw new Error(`${ready.endedEarly} streams ended early`);
    const rss1 = rssBytes(service.child.pid);
    const second = await snapshot(service.child.pid, cwd, [...existing, first.split("/").pop() as string]);
    const [a, b] = [await aggregate(first), await aggregate(second)];
    const rows = [...b].map(([key, v]) => {
      const was = a.get(key) ?? { size: 0, count: 0 };
      return { key, bytes: (v.size - was.size) / watchers, count: (v.count - was.count) / watchers };
    });
    rows.sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((n, r) => n + r.bytes, 0);
    console.log(`${watchers} streams: RSS +${((rss1 - rss0) / 1024 / watchers).toFixed(1)} KiB per stream, JS heap (self sizes) +${(total / 1024).toFixed(1)} KiB per stream`);
    console.log("bytes/stream  objects/stream  type:constructor");
    for (const row of rows.slice(0, 45)) {
      console.log(`${row.bytes.toFixed(0).padStart(12)}  ${row.count.toFixed(2).padStart(14)}  ${row.key}`);
    }
    client.send({ kind: "close" });
    if (!keep) await Promise.all([rm(first), rm(second)]);
    else console.log(`snapshots: ${first} ${second}`);
  } finally {
    await children.killAll();
    redis.disconnect();
    await redisServer.stop();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
