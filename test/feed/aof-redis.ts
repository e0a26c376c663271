import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { findRedisServer } from "../../src/redis/embedded-redis.js";

/**
 * A redis-server of the test's own, persisting every write to its append-only
 * file before replying (`appendfsync always`), that the test can shut down
 * and start again on the same port and directory.
 */
export class DurableRedis {
  readonly port: number;
  readonly dir: string;
  readonly #binary: string;
  #child: ChildProcess | undefined;

  private constructor(binary: string, port: number, dir: string) {
    this.#binary = binary;
    this.port = port;
    this.dir = dir;
  }

  static async start(): Promise<DurableRedis> {
    const binary = await findRedisServer();
    if (!binary) throw new Error("redis-server not found");
    const redis = new DurableRedis(binary, await freePort(), await mkdtemp(join(tmpdir(), "durable-redis-")));
    await redis.boot();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) and resolves once it has loaded its data and accepts connections. */
  async boot(): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", ""];
    const child = spawn(this.#binary, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const onData = (chunk: Buffer): void => {
        log += chunk.toString("utf8");
        if (log.includes("Ready to accept connections")) resolve();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${log.slice(-500)}`)));
    });
  }

  /** SHUTDOWN (the append-only file is already on disk) and wait for the process to exit. */
  async shutdown(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const admin = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await admin.connect();
    await admin.call("SHUTDOWN").catch(() => undefined);
    admin.disconnect();
    await exited;
  }

  /** SIGSTOP: connections stay open, nothing is answered; what was sent runs at `thaw()`. */
  freeze(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, "SIGSTOP");
  }

  /** SIGCONT. */
  thaw(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, "SIGCONT");
  }

  /**
   * SIGKILL: no shutdown, no final write. What it acknowledged is on disk
   * already (`appendfsync always`), so `boot()` brings it all back.
   */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    await this.shutdown();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
