import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { expect, it, onTestFinished } from "vitest";
import { QueueService, TicketState } from "../../gen/boxoffice/v1/queue_pb.js";
import { redisUrl, uniqueId } from "../support/redis.js";

/**
 * The two ways the server is started outside tests: `npm start` (development)
 * and `node dist/src/main.js` after `npm run build` (production). SIGTERM to
 * the process that was started must stop the server: no orphan left serving.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: "0",
    CONNECT_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "info",
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: `t${randomBytes(6).toString("hex")}:`,
    ADMIT_INTERVAL_MS: "0",
  };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Serving {
  pid: number;
  ports: number[];
}

/** Reads the started process's output until the server says it is serving (npm's own lines are not JSON). */
async function serving(child: ChildProcess): Promise<Serving> {
  if (child.stdout === null) throw new Error("no stdout");
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg: string; pid?: number; grpc?: string; connect?: string };
    if (entry.msg === "boxoffice is serving") {
      return { pid: entry.pid ?? 0, ports: [entry.grpc, entry.connect].map((addr) => Number(addr?.split(":").pop())) };
    }
  }
  throw new Error(`exited before serving (code ${child.exitCode}, signal ${child.signalCode})`);
}

/** Starts a command; whatever the test does, neither it nor the server it reported outlive the test. */
function start(command: string, args: string[]): { child: ChildProcess; exited: Promise<unknown[]>; stderr: () => string } {
  const child = spawn(command, args, { cwd: ROOT, env: env(), stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = once(child, "exit");
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { child, exited, stderr: () => err };
}

async function joinWorks(grpcPort: number): Promise<void> {
  const client = createClient(QueueService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  const eventId = uniqueId();
  await client.configureQueue({ eventId });
  expect((await client.join({ eventId, userId: "u" })).ticket?.state).toBe(TicketState.WAITING);
}

it("npm start: SIGTERM to the npm process stops the server, which exits 0 and leaves no orphan", async () => {
  // Under `npm test` npm says where it lives; otherwise the npm on PATH.
  const npmCli = process.env["npm_execpath"];
  const { child, exited } = npmCli ? start(process.execPath, [npmCli, "start"]) : start("npm", ["start"]);
  const server = await serving(child);
  onTestFinished(() => {
    if (alive(server.pid)) process.kill(server.pid, "SIGKILL");
  });
  expect(server.pid).not.toBe(child.pid);
  await joinWorks(server.ports[0]!);

  child.kill("SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
  expect(alive(server.pid)).toBe(false);
  for (const port of server.ports) expect(await refused(port)).toBe(true);
});

it("production: node dist/src/main.js, built by npm run build, serves with its Lua scripts and drains on SIGTERM", { timeout: 180_000 }, async () => {
  await run(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build", "--silent"], { cwd: ROOT, timeout: 170_000 }).catch((err: unknown) => {
    throw new Error(`npm run build failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
  });
  const main = `${ROOT}dist/src/main.js`;
  expect(existsSync(main), `${main} after npm run build`).toBe(true);
  const { child, exited, stderr } = start(process.execPath, [main]);
  const server = await serving(child).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${stderr()}`);
  });
  expect(server.pid).toBe(child.pid);
  await joinWorks(server.ports[0]!);

  child.kill("SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
  for (const port of server.ports) expect(await refused(port)).toBe(true);
});
