import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded-redis.js";

/**
 * A redis-server of one test's own, to break on purpose: killed and started
 * again on the same port, or frozen with SIGSTOP. Never the shared test Redis.
 */
export interface OwnRedis {
  readonly url: string;
  /** SIGKILL, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** A fresh, empty server on the same port (no persistence: the data is gone). */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered. */
  freeze(): void;
  /** SIGCONT; harmless when not frozen. */
  thaw(): void;
  /** Thaws and stops whatever runs. */
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  let server: EmbeddedRedis | undefined = await startEmbeddedRedis();
  const { url, port } = server;
  const signal = (name: NodeJS.Signals): void => {
    if (server !== undefined) {
      try {
        process.kill(server.pid, name);
      } catch {
        // already gone
      }
    }
  };
  return {
    url,
    async kill() {
      signal("SIGKILL");
      await server?.stop();
      server = undefined;
    },
    async restart() {
      await server?.stop();
      server = await startEmbeddedRedis({ port });
    },
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    async stop() {
      signal("SIGCONT");
      await server?.stop();
      server = undefined;
    },
  };
}
