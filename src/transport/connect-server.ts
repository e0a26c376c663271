import { connectNodeAdapter } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Logger } from "pino";
import type { ServiceRegistration } from "../rpc/registration.js";
import { CallRegistry } from "./call-registry.js";
import { withCors, type CorsOrigins } from "./connect/cors.js";
import { drainInterceptor } from "./connect/drain-interceptor.js";
import { keepSessionAlive } from "./connect/h2-keepalive.js";
import { sniffProtocol } from "./connect/protocol-sniffer.js";
import type { TransportServer } from "./transport-server.js";

export interface ConnectServerOptions {
  logger?: Logger;
  /** HTTP/2 PING interval (and TCP keepalive delay for HTTP/1.1). Default 30 s; 0 disables pings. */
  keepaliveTimeMs?: number;
  /** An HTTP/2 connection whose PING is not acknowledged within this time is dropped. Default 10 s. */
  keepaliveTimeoutMs?: number;
  /** Idle time after which a keep-alive HTTP/1.1 connection is closed. Default 5 s (Node's). */
  http1IdleTimeoutMs?: number;
  /** A new connection must send its first bytes within this time. Default 10 s. */
  firstByteTimeoutMs?: number;
  /** Largest accepted request message. Default 4 MiB, as on the gRPC port. */
  readMaxBytes?: number;
  /** Browser origins allowed to call (CORS preflights and exposed headers). Default none. */
  corsOrigins?: CorsOrigins;
}

/**
 * Serves the registrations with connect-node: the Connect protocol (JSON or
 * binary, curl-able), gRPC-Web for browsers, and gRPC, on one cleartext port
 * that speaks both HTTP/1.1 and HTTP/2 with prior knowledge (h2c). Each
 * connection is sniffed and handed to an HTTP/1.1 or an HTTP/2 server that
 * share one connect handler; neither of those listens itself.
 *
 * Shutdown (see `TransportServer`): stops accepting, aborts streaming calls'
 * `ctx.signal` with UNAVAILABLE, sends GOAWAY on HTTP/2 connections and
 * closes HTTP/1.1 connections as their current response completes; after
 * `graceMs`, aborts the rest and destroys the sockets.
 *
 * Note: Node's HTTP/1.1 request and header timeouts are only armed by
 * `http.Server.listen()`, so they do not apply here; long Connect streams
 * over HTTP/1.1 are not cut after 5 minutes, and slow clients are bounded by
 * `firstByteTimeoutMs` and the keep-alive idle timeout only.
 */
export function createConnectServer(
  registrations: readonly ServiceRegistration[],
  options: ConnectServerOptions = {},
): TransportServer {
  const logger = options.logger;
  const keepaliveTimeMs = options.keepaliveTimeMs ?? 30_000;
  const keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? 10_000;
  const registry = new CallRegistry();
  const connectHandler = connectNodeAdapter({
    routes(router) {
      for (const { service, impl } of registrations) router.service(service, impl);
    },
    interceptors: [drainInterceptor(registry)],
    readMaxBytes: options.readMaxBytes ?? 4 * 1024 * 1024,
  });
  const handler = withCors(connectHandler, options.corsOrigins ?? []);

  let draining = false;
  const sockets = new Set<net.Socket>();
  const h1Busy = new Map<net.Socket, number>();
  const h1Sockets = new Set<net.Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();

  const h1 = http.createServer({ keepAliveTimeout: options.http1IdleTimeoutMs ?? 5_000 }, (req, res) => {
    const socket = req.socket;
    h1Busy.set(socket, (h1Busy.get(socket) ?? 0) + 1);
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (h1Busy.get(socket) ?? 1) - 1;
      if (left > 0) {
        h1Busy.set(socket, left);
        return;
      }
      h1Busy.delete(socket);
      if (draining) socket.end();
    });
    handler(req, res);
  });
  const h2 = http2.createServer({}, handler);
  h2.on("sessionError", (err) => logger?.debug({ err }, "http/2 session error"));
  h2.on("session", (session: http2.ServerHttp2Session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
    keepSessionAlive(session, keepaliveTimeMs, keepaliveTimeoutMs);
    if (draining) session.close();
  });

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if (keepaliveTimeMs > 0) socket.setKeepAlive(true, keepaliveTimeMs);
    sniffProtocol(socket, options.firstByteTimeoutMs ?? 10_000, (sniffed, protocol) => {
      if (protocol === "h2") {
        h2.emit("connection", sniffed);
        return;
      }
      h1Sockets.add(sniffed);
      sniffed.once("close", () => h1Sockets.delete(sniffed));
      h1.emit("connection", sniffed);
      // The HTTP/1.1 server does not resume a socket handed over paused (HTTP/2 reads the buffered bytes itself).
      sniffed.resume();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    listen(port, host = "0.0.0.0") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          server.on("error", (err) => logger?.error({ err }, "connect server socket error"));
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      });
    },
    shutdown(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        logger?.info({ graceMs }, "connect server draining");
        draining = true;
        registry.drain();
        const timer = setTimeout(() => {
          logger?.warn({ graceMs }, "connect server grace period over, closing remaining connections");
          registry.force();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        // Resolves once every accepted connection has closed.
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const session of h2Sessions) session.close();
        for (const socket of h1Sockets) {
          if (!h1Busy.has(socket)) socket.end();
        }
      });
      return closing;
    },
  };
}
