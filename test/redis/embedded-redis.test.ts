import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  EmbeddedRedisStartError,
  findRedisServer,
  RECOMMENDED_HASH_MAX_LISTPACK_ENTRIES,
  RedisServerNotFoundError,
  startEmbeddedRedis,
} from "../../src/redis/embedded-redis.js";

describe("startEmbeddedRedis", () => {
  it("finds redis-server on this machine (the test harness and npm start rely on it)", async () => {
    expect(await findRedisServer()).toMatch(/redis-server$/);
  });

  it("serves a private, non-persistent server on loopback until stop()", async () => {
    const server = await startEmbeddedRedis();
    onTestFinished(() => server.stop());
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);

    const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
    onTestFinished(() => redis.disconnect());
    expect(await redis.ping()).toBe("PONG");
    await redis.set("greeting", "hello");
    expect(await redis.get("greeting")).toBe("hello");
    expect(await configGet(redis, "save")).toBe("");
    expect(await configGet(redis, "appendonly")).toBe("no");
    expect(await configGet(redis, "protected-mode")).toBe("yes");
    expect(await configGet(redis, "bind")).toBe("127.0.0.1");
    expect(await configGet(redis, "hash-max-listpack-entries")).toBe(String(RECOMMENDED_HASH_MAX_LISTPACK_ENTRIES));
    const dir = await configGet(redis, "dir");
    expect(existsSync(dir)).toBe(true);
    await redis.quit();

    await server.stop();
    expect(await connectError(server.port)).toBe("ECONNREFUSED");
    expect(existsSync(dir)).toBe(false);
    await server.stop(); // idempotent
  });

  it("runs several servers side by side on distinct ports", async () => {
    const servers = await Promise.all([startEmbeddedRedis(), startEmbeddedRedis(), startEmbeddedRedis()]);
    onTestFinished(() => Promise.all(servers.map((server) => server.stop())).then(() => undefined));
    expect(new Set(servers.map((server) => server.port)).size).toBe(servers.length);

    for (const server of servers) {
      const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
      onTestFinished(() => redis.disconnect());
      await redis.set("owner", server.url);
    }
    for (const server of servers) {
      const redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
      onTestFinished(() => redis.disconnect());
      expect(await redis.get("owner")).toBe(server.url);
    }
  });
});

describe("startEmbeddedRedis without redis-server", () => {
  it("fails with a one-line error that says how to install it", async () => {
    const empty = await mkdtemp(join(tmpdir(), "no-redis-"));
    onTestFinished(() => rm(empty, { recursive: true, force: true }));

    const error: unknown = await startEmbeddedRedis({ searchPath: [empty] }).then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(RedisServerNotFoundError);
    const message = (error as RedisServerNotFoundError).message;
    expect(message).not.toMatch(/[\r\n]/);
    expect(message).toContain("apt-get install redis-server");
    expect(message).toContain("brew install redis");
    expect(message).toContain("REDIS_URL");
  });
});

// Stand-in binaries (plain shell scripts) exercise the failure paths with a real child process.
describe("startEmbeddedRedis when redis-server misbehaves", () => {
  it("retries on a port race, then reports the server's last words", async () => {
    const dir = await fakeRedisServer(
      'echo started >> "$(dirname "$0")/attempts"\n' +
        'echo "# Warning: Could not create server TCP listening socket 127.0.0.1:$2: bind: Address already in use"\n' +
        "exit 1",
    );

    const error = await startEmbeddedRedis({ searchPath: [dir] }).then(() => undefined, (reason: unknown) => reason);

    expect(error).toBeInstanceOf(EmbeddedRedisStartError);
    expect((error as Error).message).toContain("Address already in use");
    const attempts = (await readFile(join(dir, "attempts"), "utf8")).trim().split("\n");
    expect(attempts).toHaveLength(5);
  });

  it("gives up on a server that never becomes ready, and stops it", async () => {
    const dir = await fakeRedisServer('echo $$ > "$(dirname "$0")/pid"\nexec sleep 60');

    const error = await startEmbeddedRedis({ searchPath: [dir], readyTimeoutMs: 300 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(EmbeddedRedisStartError);
    expect((error as Error).message).toContain("not ready after 300 ms");
    const pid = Number((await readFile(join(dir, "pid"), "utf8")).trim());
    expect(isAlive(pid)).toBe(false);
  });
});

async function fakeRedisServer(body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fake-redis-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "redis-server");
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function configGet(redis: Redis, parameter: string): Promise<string> {
  const reply: unknown = await redis.config("GET", parameter);
  if (!Array.isArray(reply) || typeof reply[1] !== "string") {
    throw new Error(`unexpected CONFIG GET ${parameter} reply: ${JSON.stringify(reply)}`);
  }
  return reply[1];
}

/** Resolves with the error code of a TCP connect to the port, or "connected". */
function connectError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
