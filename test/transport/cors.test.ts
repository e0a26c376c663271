import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";

const PAGE = "http://page.example:3000";

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function request(url: string, method: string, headers: Record<string, string>, body = ""): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const preflight = (url: string, origin: string, requestHeaders: string): Promise<Answer> =>
  request(url, "OPTIONS", { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders });

describe("CORS on the Connect port", () => {
  let server: RunningServer;
  let other: RunningServer;
  beforeAll(async () => {
    [server, other] = await Promise.all([startServer({ CORS_ORIGINS: `${PAGE}, https://other.example` }), startServer()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), other?.stop()]);
  });
  const join = (base: string) => `${base}/${QueueService.typeName}/Join`;

  it("answers a listed origin's preflight with what Connect and gRPC-Web requests send", async () => {
    const answer = await preflight(join(server.connectUrl), PAGE, "content-type,connect-protocol-version,connect-timeout-ms");
    expect(answer.status).toBe(204);
    expect(answer.headers["access-control-allow-origin"]).toBe(PAGE);
    expect(answer.headers["access-control-allow-methods"]).toContain("POST");
    const allowed = String(answer.headers["access-control-allow-headers"]).toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "connect-protocol-version", "connect-timeout-ms", "x-grpc-web", "x-user-agent", "grpc-timeout"]));
  });

  it("lets the page read an actual response, gRPC-Web status headers included", async () => {
    const eventId = uniqueId();
    await server.client(QueueService).configureQueue({ eventId });
    const answer = await request(join(server.connectUrl), "POST", { origin: PAGE, "content-type": "application/json" }, JSON.stringify({ eventId, userId: "u" }));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ newlyJoined: true });
    expect(answer.headers["access-control-allow-origin"]).toBe(PAGE);
    expect(String(answer.headers["access-control-expose-headers"]).toLowerCase()).toContain("grpc-status");
  });

  it("grants nothing to an origin that is not listed, nor when no origin is configured", async () => {
    const unlisted = await preflight(join(server.connectUrl), "http://evil.example", "content-type");
    expect(unlisted.headers["access-control-allow-origin"]).toBeUndefined();
    expect(unlisted.status).not.toBe(204);
    const unconfigured = await preflight(join(other.connectUrl), PAGE, "content-type");
    expect(unconfigured.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("CORS_ORIGINS", () => {
  it("is none by default, any with *, or a list of exact origins", () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
    expect(loadConfig({ CORS_ORIGINS: "https://a.example, http://localhost:5173" }).corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
  });

  it("lists every entry that is not an origin", () => {
    let error: unknown;
    try {
      loadConfig({ CORS_ORIGINS: "https://a.example/,a.example,https://ok.example,ftp://x.example", PORT: "x" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.filter((p) => p.startsWith("CORS_ORIGINS")).map((p) => p.split(" ")[2])).toEqual(["1", "2", "4"]);
  });
});
