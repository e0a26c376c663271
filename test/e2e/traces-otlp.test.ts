import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { expect, it, onTestFinished } from "vitest";
import { QueueService, QueueState } from "../../gen/boxoffice/v1/queue_pb.js";
import { redisUrl, uniqueId } from "../support/redis.js";
import { traceparent } from "../support/span-sink.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RECORD_LOADS = fileURLToPath(new URL("../support/record-loads.mjs", import.meta.url));

interface Export {
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A stand-in OTLP/HTTP collector on 127.0.0.1: keeps every request it receives, answers 200 with an empty response. */
async function startCollector(): Promise<{ endpoint: string; received: Export[] }> {
  const received: Export[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/**
 * `npm start`'s process (src/main.ts) over the test Redis, with `env` added,
 * recording the @opentelemetry modules it loads; joins a queue over the gRPC
 * port with a traceparent, then stops it with SIGTERM. Returns what it loaded.
 */
async function runServer(env: Record<string, string>, parent: { header: string }): Promise<{ loaded: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "loads-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const loads = join(dir, "loads.txt");
  const childEnv: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("OTEL_"))),
    PORT: "0",
    CONNECT_PORT: "0",
    REDIS_URL: redisUrl(),
    REDIS_KEY_PREFIX: `t${uniqueId("").slice(-12)}:`,
    ADMIT_INTERVAL_MS: "0",
    LOG_LEVEL: "info",
    RECORD_LOADS_FILE: loads,
    ...env,
  };
  const child = spawn(process.execPath, ["--import", RECORD_LOADS, "--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  let grpc = "";
  for await (const line of createInterface({ input: child.stdout })) {
    const entry = JSON.parse(line) as { msg: string; grpc?: string };
    if (entry.msg === "boxoffice is serving") {
      grpc = entry.grpc ?? "";
      break;
    }
  }
  child.stdout.resume();
  expect(grpc).not.toBe("");
  const client = createClient(QueueService, createGrpcTransport({ baseUrl: `http://${grpc}` }));
  const eventId = uniqueId();
  await client.configureQueue({ eventId, state: QueueState.PAUSED });
  await client.join({ eventId, userId: "u" }, { headers: { traceparent: parent.header } });
  child.kill("SIGTERM");
  const [code] = await exited;
  expect(code).toBe(0);
  return { loaded: existsSync(loads) ? readFileSync(loads, "utf8").split("\n").filter((l) => l !== "") : [] };
}

const sdkPackages = (loaded: readonly string[]): string[] =>
  [...new Set(loaded.map((url) => /\/node_modules\/@opentelemetry\/([^/]+)\//.exec(url)?.[1] ?? url))].filter((name) => name !== "api").sort();

it("exports the spans over OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, flushed when the server stops", async () => {
  const collector = await startCollector();
  const parent = traceparent();
  const { loaded } = await runServer({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_SERVICE_NAME: "boxoffice-otlp-test" }, parent);

  // The batch processor's 5 s delay has not passed: the spans left at shutdown.
  const exports = collector.received.filter((r) => r.url === "/v1/traces");
  expect(exports.length).toBeGreaterThan(0);
  expect(exports.every((r) => r.headers["content-type"] === "application/x-protobuf")).toBe(true);
  // Protobuf carries strings as their UTF-8 bytes and ids as their raw bytes.
  const body = Buffer.concat(exports.map((r) => r.body));
  for (const text of ["boxoffice.v1.QueueService/Join", "boxoffice.v1.QueueService/ConfigureQueue", "FCALL joinQueue", "boxoffice-otlp-test", "rpc.grpc.status_code"]) {
    expect(body.includes(Buffer.from(text)), text).toBe(true);
  }
  expect(body.includes(Buffer.from(parent.traceId, "hex"))).toBe(true);
  expect(body.includes(Buffer.from(parent.spanId, "hex"))).toBe(true);
  expect(sdkPackages(loaded)).toEqual(expect.arrayContaining(["context-async-hooks", "core", "exporter-trace-otlp-proto", "resources", "sdk-trace"]));
});

it("never loads the OpenTelemetry SDK without an OTLP endpoint", async () => {
  const { loaded } = await runServer({}, traceparent());
  expect(sdkPackages(loaded)).toEqual([]);
});
