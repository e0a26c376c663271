import { spawn, type ChildProcess } from "node:child_process";
import { constants, rmSync } from "node:fs";
import { access, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/**
 * A throwaway `redis-server` child process: what `npm start` talks to when no
 * `REDIS_URL` is configured, and what the tests use when no container runtime
 * is available. It listens on loopback only, keeps nothing on disk, and never
 * outlives the process that started it.
 */
export interface EmbeddedRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The server's process id (tests freeze it with SIGSTOP). */
  readonly pid: number;
  /** Stops the server, waits for it to exit and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** The slice of a pino logger this module needs, so callers can pass any pino (child) logger. */
export interface EmbeddedRedisLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface EmbeddedRedisOptions {
  logger?: EmbeddedRedisLogger;
  /**
   * Directories searched for `redis-server`, in order. Defaults to the entries
   * of `PATH`, then /usr/sbin, /usr/bin and /usr/local/bin (Debian installs
   * the binary in /usr/bin, Homebrew in /usr/local/bin or /opt/homebrew/bin).
   */
  searchPath?: readonly string[];
  /** Upper bound on waiting for "Ready to accept connections"; default 10 s. */
  readyTimeoutMs?: number;
  /** Listen on this port (e.g. to start a server again where a stopped one was); default: a free one. */
  port?: number;
}

/** No `redis-server` binary in any searched directory. The message is one line that says how to fix it. */
export class RedisServerNotFoundError extends Error {
  override readonly name = "RedisServerNotFoundError";
  constructor(readonly searched: readonly string[]) {
    super(
      "redis-server not found: install it with `apt-get install redis-server` (Debian/Ubuntu) " +
        "or `brew install redis` (macOS), or set REDIS_URL",
    );
  }
}

/** `redis-server` was found but did not become ready; the message carries the tail of its log. */
export class EmbeddedRedisStartError extends Error {
  override readonly name = "EmbeddedRedisStartError";
}

/**
 * `hash-max-listpack-entries` the embedded server starts with (the README's
 * recommendation, *Recommended Redis settings*): an event's 4,096 ticket
 * buckets stay compact listpacks up to ≈ 1,800,000 tickets instead of
 * ≈ 350,000 with the 128 of Redis's example redis.conf.
 */
export const RECOMMENDED_HASH_MAX_LISTPACK_ENTRIES = 512;

const FALLBACK_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/bin"];
const READY_LINE = "Ready to accept connections";
const PORT_TAKEN = "Address already in use";
const START_ATTEMPTS = 5;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_CHARS = 4_096;

/** Returns the absolute path of the first executable `redis-server` in `searchPath`, or undefined. */
export async function findRedisServer(searchPath: readonly string[] = defaultSearchPath()): Promise<string | undefined> {
  for (const dir of searchPath) {
    const candidate = join(dir, "redis-server");
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, in a fresh temporary
 * directory with persistence off, and resolves once it accepts connections.
 *
 * @throws RedisServerNotFoundError when the binary is missing
 * @throws EmbeddedRedisStartError when the server exits or stalls before it is ready
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const searchPath = options.searchPath ?? defaultSearchPath();
  const binary = await findRedisServer(searchPath);
  if (binary === undefined) throw new RedisServerNotFoundError(searchPath);

  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await pickFreePort());
    const dir = await mkdtemp(join(tmpdir(), "embedded-redis-"));
    try {
      const server = await launch(binary, port, dir, readyTimeoutMs);
      options.logger?.info({ port, dir, binary }, "embedded redis-server started");
      return server;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      // The port was free when picked but something else took it before redis bound it.
      const raced = error instanceof EmbeddedRedisStartError && error.message.includes(PORT_TAKEN);
      if (!raced || attempt >= START_ATTEMPTS || options.port !== undefined) throw error;
      options.logger?.warn({ port, attempt }, "port taken before redis-server bound it; retrying");
    }
  }
}

function defaultSearchPath(): string[] {
  const fromEnv = (process.env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "");
  return [...new Set([...fromEnv, ...FALLBACK_DIRS])];
}

/** Asks the kernel for a free loopback port by binding port 0, then releases it. */
function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("could not pick a free port"))));
    });
  });
}

function launch(binary: string, port: number, dir: string, readyTimeoutMs: number): Promise<EmbeddedRedis> {
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--protected-mode", "yes",
    "--save", "",
    "--appendonly", "no",
    // What the README recommends for lines of up to ≈ 1,800,000 (ticket buckets stay listpacks).
    "--hash-max-listpack-entries", String(RECOMMENDED_HASH_MAX_LISTPACK_ENTRIES),
    "--dir", dir,
    "--daemonize", "no",
    "--logfile", "",
  ];
  const child = spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });

  // Last resort: a synchronous kill when this process exits without calling stop().
  const killOnExit = (): void => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);

  // Keep draining both pipes for the server's whole life (a full pipe would block it),
  // remembering only the tail for error messages.
  let log = "";
  let ready = false;
  let onReady: (() => void) | undefined;
  const capture = (chunk: Buffer): void => {
    log = (log + chunk.toString("utf8")).slice(-LOG_TAIL_CHARS);
    if (!ready && log.includes(READY_LINE)) {
      ready = true;
      onReady?.();
    }
  };
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);

  const exited = new Promise<void>((resolve) => {
    child.once("close", () => {
      process.removeListener("exit", killOnExit);
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    })());

  return new Promise<EmbeddedRedis>((resolve, reject) => {
    const fail = (reason: string): void => {
      clearTimeout(timer);
      void stop().then(() => reject(new EmbeddedRedisStartError(`redis-server ${reason}; last output: ${tail(log)}`)));
    };
    const timer = setTimeout(() => fail(`not ready after ${readyTimeoutMs} ms`), readyTimeoutMs);
    onReady = () => {
      clearTimeout(timer);
      resolve({ url: `redis://127.0.0.1:${port}`, port, pid: child.pid as number, stop });
    };
    child.on("error", (error) => {
      if (!ready) fail(`could not be started (${error.message})`);
    });
    child.once("exit", (code, signal) => {
      if (!ready) fail(`exited before it was ready (code ${code ?? "none"}, signal ${signal ?? "none"})`);
    });
    if (ready) onReady();
  });
}

/** The last few log lines, joined on one line. */
function tail(log: string): string {
  const lines = log.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  return lines.slice(-4).join(" | ") || "(none)";
}
