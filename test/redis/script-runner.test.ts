import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { queueKeys } from "../../src/queue/keys.js";
import { QueueStore } from "../../src/queue/queue-store.js";
import { loadQueueScripts, type QueueScriptName } from "../../src/queue/scripts.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { listLibrary } from "../support/functions.js";
import { uniqueId } from "../support/redis.js";

/**
 * FUNCTION FLUSH and command statistics concern a whole server, so these tests
 * run on a redis-server of their own, never on the one the other files share.
 */
describe("ScriptRunner", () => {
  const library = loadQueueScripts();
  let server: EmbeddedRedis;
  let admin: Redis;
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    await Promise.all([admin, ...clients].map((client) => client.quit()));
    await server.stop();
  });
  beforeEach(async () => {
    await admin.function("FLUSH");
    await admin.config("RESETSTAT");
  });

  function client(options: { enableAutoPipelining?: boolean } = {}): Redis {
    const redis = new Redis(server.url, options);
    clients.push(redis);
    return redis;
  }

  /** How many FUNCTION LOAD commands the server has run since the test began. */
  async function loads(): Promise<number> {
    const stats = await admin.info("commandstats");
    return Number(/^cmdstat_function\|load:calls=(\d+),/m.exec(stats)?.[1] ?? 0);
  }

  async function joinAll(store: QueueStore, eventId: string, users: number): Promise<void> {
    const results = await Promise.all(Array.from({ length: users }, (_, i) => store.join(eventId, `user-${i}`)));
    expect(results.map((result) => result.kind)).toEqual(Array.from({ length: users }, () => "joined"));
  }

  it("loads the library once, on first use, for all the calls made before the load completed", async () => {
    const store = new QueueStore(client());
    const eventId = uniqueId();
    expect(await listLibrary(admin, library.name)).toEqual({});
    expect((await store.configure(eventId, {})).kind).toBe("created");
    await joinAll(store, eventId, 20);
    expect(await loads()).toBe(1);
    expect(Object.keys(await listLibrary(admin, library.name))).toHaveLength(library.functions.size);
  });

  it("loads the library again after FUNCTION FLUSH, once for every call that failed alike, and those calls succeed", async () => {
    for (const autoPipelining of [false, true]) {
      await admin.function("FLUSH");
      await admin.config("RESETSTAT");
      const store = new QueueStore(client({ enableAutoPipelining: autoPipelining }));
      const eventId = uniqueId();
      await store.configure(eventId, {});
      await joinAll(store, eventId, 5);
      expect(await loads()).toBe(1);

      await admin.function("FLUSH");
      const position = await store.position(eventId, "user-0");
      expect(position.kind === "ticket" && position.ticket.position).toBe(1);
      expect(await loads()).toBe(2);

      await admin.function("FLUSH");
      const stats = await Promise.all(Array.from({ length: 20 }, () => store.stats(eventId)));
      expect(stats.map((s) => (s.kind === "stats" ? s.stats.waiting : -1))).toEqual(Array.from({ length: 20 }, () => 5));
      expect(await loads()).toBe(3);
    }
  });

  it("sends a failed call once more at most: an error that is not a missing function comes back as it is", async () => {
    const redis = client();
    const runner = new ScriptRunner<QueueScriptName>(redis, library);
    const eventId = uniqueId();
    const k = queueKeys("bo:", eventId);
    // The config key holds a string instead of a hash: Redis refuses the script's HMGET.
    await admin.set(k.config, "not a hash");
    await expect(runner.run("readQueueStats", [k.config, k.waiting, k.tickets, k.stats, k.active], [0])).rejects.toThrow(/WRONGTYPE/);
    expect(await loads()).toBe(1);
  });

  it("lets a pipeline queued before the first load wait for it, in a transaction too", async () => {
    // With auto-pipelining the load waits for the next tick, while exec writes at once.
    const redis = client({ enableAutoPipelining: true });
    const runner = new ScriptRunner<QueueScriptName>(redis, library);
    const eventId = uniqueId();
    const k = queueKeys("bo:", eventId);
    const configure = ["0", "", "", "", "", "", "", "", 0];

    const transaction = redis.multi();
    runner.queue(transaction, "configureQueue", [k.config, k.log], configure);
    transaction.hget(k.config, "state");
    const [[error, reply], [, state]] = (await transaction.exec()) as Array<[Error | null, unknown]> as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    expect(error).toBeNull();
    expect((reply as unknown[])[0]).toBe(1); // CREATED
    expect(state).toBe("1");
    expect(await loads()).toBe(1);
  });

  it("after FUNCTION FLUSH, fails a pipelined script with the error and loads the library for the next call", async () => {
    const redis = client();
    const runner = new ScriptRunner<QueueScriptName>(redis, library);
    const k = queueKeys("bo:", uniqueId());
    const stats = async (): Promise<unknown> => {
      const pipeline = redis.pipeline();
      runner.queue(pipeline, "readQueueStats", [k.config, k.waiting, k.tickets, k.stats, k.active], [0]);
      const [[error, reply]] = (await pipeline.exec()) as [[Error | null, unknown]];
      if (error) throw error;
      return reply;
    };
    await stats();
    await admin.function("FLUSH");
    await expect(stats()).rejects.toThrow(/Function not found/);
    expect(await stats()).toBeInstanceOf(Array);
    expect(await loads()).toBe(2);
  });

  it("after FUNCTION FLUSH, loads the library again for a configure and sends it once more", async () => {
    const store = new QueueStore(client());
    const eventId = uniqueId();
    await store.configure(eventId, {});
    await admin.function("FLUSH");
    expect((await store.configure(eventId, { admitRatePerSec: 5 })).kind).toBe("updated");
    expect(await loads()).toBe(2);
  });
});
