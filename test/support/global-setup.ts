import type { TestProject } from "vitest/node";
import { startEmbeddedRedis } from "../../src/redis/embedded-redis.js";
import type {} from "./provided-context.js";

/**
 * Finds one Redis for the whole run, in this order: `REDIS_URL` if set; a
 * `redis:7-alpine` container when a container runtime answers; otherwise a
 * `redis-server` child process. Tests share it and stay apart by using their
 * own ids, so nothing is ever flushed. Whatever is started here is stopped by
 * the returned teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const source = await chooseRedis();
  console.info(`[node] ${process.version}`);
  console.info(`[redis] ${source.description}`);
  project.provide("redisUrl", source.url);
  return source.stop;
}

interface RedisSource {
  readonly url: string;
  readonly description: string;
  readonly stop: () => Promise<void>;
}

type Testcontainers = typeof import("testcontainers");

type Detection = { readonly kind: "available"; readonly testcontainers: Testcontainers } | { readonly kind: "absent"; readonly reason: string };

/** A missing runtime should cost next to nothing; a runtime that answers takes well under this. */
const DETECT_TIMEOUT_MS = 3_000;
const CONTAINER_IMAGE = "redis:7-alpine";

async function chooseRedis(): Promise<RedisSource> {
  const fromEnv = process.env["REDIS_URL"];
  if (fromEnv !== undefined && fromEnv !== "") {
    return { url: fromEnv, description: `using REDIS_URL (${describeUrl(fromEnv)})`, stop: async () => {} };
  }

  const started = performance.now();
  const detection = await detectContainerRuntime();
  const took = `${Math.round(performance.now() - started)} ms`;
  if (detection.kind === "available") {
    const source = await startContainer(detection.testcontainers);
    return { ...source, description: `container runtime found in ${took}; ${source.description}` };
  }

  const server = await startEmbeddedRedis();
  return {
    url: server.url,
    description: `no container runtime (${detection.reason}; checked in ${took}); using embedded redis-server on ${server.url}`,
    stop: server.stop,
  };
}

async function detectContainerRuntime(): Promise<Detection> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DETECT_TIMEOUT_MS} ms`)), DETECT_TIMEOUT_MS);
  });
  try {
    let testcontainers: Testcontainers;
    try {
      testcontainers = await Promise.race([import("testcontainers"), deadline]);
    } catch (error) {
      // testcontainers 12 pulls in an undici that needs Node >= 22 and fails to load on older Nodes.
      return { kind: "absent", reason: `testcontainers cannot load on Node ${process.version}: ${firstLine(error)}` };
    }
    await Promise.race([testcontainers.getContainerRuntimeClient(), deadline]);
    return { kind: "available", testcontainers };
  } catch (error) {
    return { kind: "absent", reason: firstLine(error) };
  } finally {
    clearTimeout(timer);
  }
}

async function startContainer(testcontainers: Testcontainers): Promise<RedisSource> {
  const container = await new testcontainers.GenericContainer(CONTAINER_IMAGE)
    .withExposedPorts(6379)
    .withCommand(["redis-server", "--save", "", "--appendonly", "no"])
    .withWaitStrategy(testcontainers.Wait.forLogMessage("Ready to accept connections"))
    .start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return {
    url,
    description: `using ${CONTAINER_IMAGE} container on ${url}`,
    stop: async () => {
      await container.stop();
    },
  };
}

/** Scheme, host and port only: a URL from the environment may carry a password. */
function describeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}`;
  } catch {
    return "unparseable URL";
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? "";
}
