import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One log line of a started instance (pino JSON). */
export interface LogEntry {
  readonly msg: string;
  readonly level: number;
  readonly [field: string]: unknown;
}

/**
 * A Boxoffice server started as its own process (`node --import tsx
 * src/main.ts`), as in production: several of them over one Redis are
 * several instances of the service.
 */
export interface InstanceProcess {
  readonly pid: number;
  /** `http://127.0.0.1:<port>` of the gRPC port. */
  readonly grpcUrl: string;
  /** A gRPC transport to the gRPC port. */
  readonly transport: Transport;
  /** Every log line so far. */
  readonly logs: readonly LogEntry[];
  /** Resolves with the next log line. */
  nextLog(): Promise<LogEntry>;
  /** SIGTERM, and resolves with the exit code once the process is gone. */
  terminate(): Promise<number | null>;
  /** SIGKILL unless already gone (cleanup). */
  kill(): void;
}

/** Starts an instance with these environment variables (PORT and CONNECT_PORT are 0) and resolves once it serves. */
export async function startInstance(env: Record<string, string>): Promise<InstanceProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", CONNECT_PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4096)));
  const logs: LogEntry[] = [];
  let waiters: Array<(entry: LogEntry) => void> = [];
  let grpc: string | undefined;
  const serving = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as LogEntry;
      logs.push(entry);
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake(entry);
      if (entry.msg === "boxoffice is serving") resolve(String(entry["grpc"]));
    });
    void exited.then(([code, signal]) => reject(new Error(`instance exited before serving (code ${code}, signal ${signal}): ${stderr}`)));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  try {
    grpc = await serving;
  } catch (error) {
    kill();
    throw error;
  }
  const grpcUrl = `http://${grpc}`;
  return {
    pid: child.pid!,
    grpcUrl,
    transport: createGrpcTransport({ baseUrl: grpcUrl }),
    logs,
    nextLog: () => new Promise<LogEntry>((resolve) => waiters.push(resolve)),
    async terminate() {
      child.kill("SIGTERM");
      const [code] = await exited;
      return code;
    },
    kill,
  };
}
