import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { expect, it, onTestFinished } from "vitest";
import { QueueService, QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { uniqueId } from "../support/redis.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

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

it("starts with a private Redis, serves, and drains on SIGTERM: streams end UNAVAILABLE, exit 0, Redis stopped", async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", CONNECT_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "info" };
  delete env["REDIS_URL"];
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  // Whatever happens in the test, the process (and with it its private Redis) does not outlive it.
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  const lines = createInterface({ input: child.stdout });
  let redisPort = 0;
  let grpc = "";
  let connectAddr = "";
  let warnedDevelopment = false;
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg: string; level: number; port?: number; grpc?: string; connect?: string };
    if (entry.msg === "embedded redis-server started") redisPort = entry.port ?? 0;
    if (entry.level === 40 && entry.msg.startsWith("DEVELOPMENT MODE: running WITHOUT authentication")) warnedDevelopment = true;
    if (entry.msg === "boxoffice is serving") {
      grpc = entry.grpc ?? "";
      connectAddr = entry.connect ?? "";
      break;
    }
  }
  expect(redisPort).toBeGreaterThan(0);
  expect(warnedDevelopment).toBe(true);
  const clients = [grpc, connectAddr].map((addr) => createClient(QueueService, createGrpcTransport({ baseUrl: `http://${addr}` })));
  const eventId = uniqueId();
  // Paused: the admitter of the started process must not let the user through mid-test.
  await clients[0]!.configureQueue({ eventId, state: QueueState.PAUSED });
  await clients[0]!.join({ eventId, userId: "u" });
  const streams = clients.map((c) => c.watchPosition({ eventId, userId: "u" })[Symbol.asyncIterator]());
  for (const stream of streams) {
    expect((await stream.next()).value?.ticket?.position).toBe(1);
  }

  child.kill("SIGTERM");
  for (const stream of streams) {
    await expect(stream.next()).rejects.toMatchObject({ code: Code.Unavailable });
  }
  const [code] = await exited;
  expect(code).toBe(0);
  expect(await refused(redisPort)).toBe(true);
  for (const addr of [grpc, connectAddr]) {
    expect(await refused(Number(addr.split(":").pop()))).toBe(true);
  }
});

it("refuses to start in production without tokens, pass keys and REDIS_URL, naming all three", async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", PORT: "0", CONNECT_PORT: "0", METRICS_PORT: "0" };
  for (const name of ["REDIS_URL", "AUTH_TOKENS", "AUTH_TOKENS_FILE", "PASS_KEYS"]) delete env[name];
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = await once(child, "exit");
  expect(code).toBe(2);
  expect(stderr).toContain("needs AUTH_TOKENS or AUTH_TOKENS_FILE");
  expect(stderr).toContain("needs PASS_KEYS");
  expect(stderr).toContain("needs REDIS_URL");
});
