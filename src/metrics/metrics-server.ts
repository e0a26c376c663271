import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { hostPort } from "../transport/transport-server.js";

/** The Prometheus endpoint: `GET /metrics` on a port of its own, plain HTTP/1.1. */
export interface MetricsServer {
  /** Resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number>;
  /** Stops listening and closes every connection (scrapes are short; none is waited for). */
  close(): Promise<void>;
}

export function createMetricsServer(registry: Registry, logger: Logger): MetricsServer {
  const server = http.createServer((req, res) => {
    const path = req.url?.split("?", 1)[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        logger.error({ err }, "metrics collection failed");
        res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
      },
    );
  });
  let closing: Promise<void> | undefined;
  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          server.on("error", (err) => logger.error({ err, address: hostPort(host, port) }, "metrics server socket error"));
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      closing ??= server.listening
        ? new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          })
        : Promise.resolve();
      return closing;
    },
  };
}
