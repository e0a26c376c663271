import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: child processes run there so `--import tsx` resolves. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

const TAIL_CHARS = 4_000;

/** A child process this benchmark started, with the tail of its output for error messages. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = "";

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString("utf8")).slice(-TAIL_CHARS);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  get pid(): number {
    const pid = this.process.pid;
    if (pid === undefined) throw new Error(`${this.name} has no pid (it did not start)`);
    return pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last few KB the process printed. */
  get output(): string {
    return this.#output;
  }

  /** The next IPC message matching `accept`; rejects if the process exits first or after `timeoutMs`. */
  message<T>(accept: (message: unknown) => message is T, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${this.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: unknown): void => {
        if (accept(message)) done(undefined, message);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        done(new Error(`${this.name} exited (code ${code}, signal ${signal}); output: ${this.#output.slice(-1500)}`));
      const done = (err: Error | undefined, value?: T): void => {
        clearTimeout(timer);
        this.process.off("message", onMessage);
        this.process.off("exit", onExit);
        if (err) reject(err);
        else resolve(value as T);
      };
      this.process.on("message", onMessage);
      this.process.once("exit", onExit);
    });
  }

  send(message: unknown): void {
    this.process.send?.(message as never);
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.process.kill(signal);
      const killer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
      const result = await this.exited;
      clearTimeout(killer);
      return result;
    }
    return this.exited;
  }
}

/**
 * Every child process of the run. `killAll` ends the ones still alive; it
 * also runs synchronously when this process exits for any reason, so no
 * server or load generator outlives the benchmark.
 */
export class ChildSet {
  readonly #children = new Set<Child>();

  constructor() {
    process.once("exit", () => {
      for (const child of this.#children) if (child.running) child.process.kill("SIGKILL");
    });
  }

  /**
   * Runs a TypeScript entry file with Node and tsx, with an IPC channel; or,
   * with `compiled`, a JavaScript entry file with plain Node.
   */
  node(name: string, entry: string, options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; compiled?: boolean } = {}): Child {
    const loader = options.compiled === true ? [] : ["--import", "tsx"];
    return this.spawn(name, process.execPath, [...(options.nodeArgs ?? []), ...loader, entry], {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
  }

  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
    const child = new Child(name, spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...options }));
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => child.stop("SIGKILL", 0)));
  }
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc, USER_HZ = 100). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
