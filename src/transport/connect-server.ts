import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";
import { observeRefusal, observersOf, type RpcObserver } from "../observe/rpc-observer.js";
import type { ServiceRegistration } from "../rpc/registration.js";
import { CallRegistry } from "./call-registry.js";
import { withCors, type CorsOrigins } from "./connect/cors.js";
import { drainInterceptor } from "./connect/drain-interceptor.js";
import { keepSessionAlive } from "./connect/h2-keepalive.js";
import { createNodeHandler } from "./connect/node-handler.js";
import { sniffProtocol, type WireProtocol } from "./connect/protocol-sniffer.js";
import type { RefusalListener } from "./connect/request-guard.js";
import { ALPN_PROTOCOLS, type TlsOptions } from "./tls.js";
import type { TransportServer } from "./transport-server.js";

/** After the grace period, how long aborted calls get to send their error before connections are cut. */
const abortedCallsMs = 1_000;

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
  /** Largest accepted request message; larger ones are RESOURCE_EXHAUSTED. Default 4 MiB, as on the gRPC port. */
  readMaxBytes?: number;
  /** Largest response message; a larger one fails its call RESOURCE_EXHAUSTED. Default: unlimited. */
  writeMaxBytes?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. Default: Node's (unlimited). */
  maxConcurrentStreams?: number;
  /**
   * TLS (HTTP/2 or HTTP/1.1 chosen by ALPN); with `clientCa`, only clients
   * presenting a certificate it signed complete the handshake. Default:
   * cleartext (HTTP/1.1 or h2c, sniffed).
   */
  tls?: TlsOptions;
  /** Browser origins allowed to call (CORS preflights and exposed headers). Default none. */
  corsOrigins?: CorsOrigins;
  /**
   * Sees the calls this port refuses before any handler runs (malformed
   * requests, streams opened while draining); the calls that reach a handler
   * are observed by the call policy.
   */
  observer?: RpcObserver;
}

/**
 * Serves the registrations with connect-node: the Connect protocol (JSON or
 * binary, curl-able), gRPC-Web for browsers, and gRPC, on one port that
 * speaks both HTTP/1.1 and HTTP/2: in cleartext each connection is sniffed
 * (HTTP/2 with prior knowledge, h2c), over TLS ALPN decides. Either way it is
 * handed to an HTTP/1.1 or an HTTP/2 server that share one connect handler;
 * neither of those listens itself.
 *
 * Shutdown (see `TransportServer`): stops accepting, aborts streaming calls'
 * `ctx.signal` with UNAVAILABLE, sends GOAWAY on HTTP/2 connections and
 * closes HTTP/1.1 connections as their current response completes; after
 * `graceMs`, aborts the rest (they answer UNAVAILABLE) and destroys the
 * sockets still open a second later.
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
  const observed = options.observer && observersOf(options.observer, "connect");
  const onRefused: RefusalListener | undefined = observed && ((service, method, error) => observeRefusal(observed(service, method), error));
  const connectHandler = createNodeHandler(registrations, {
    interceptors: [drainInterceptor(registry, onRefused)],
    readMaxBytes: options.readMaxBytes ?? 4 * 1024 * 1024,
    writeMaxBytes: options.writeMaxBytes,
    logger,
    onRefused,
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
  const settings = options.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: options.maxConcurrentStreams };
  const h2 = http2.createServer({ settings }, handler);
  h2.on("sessionError", (err) => logger?.debug({ err }, "http/2 session error"));
  h2.on("session", (session: http2.ServerHttp2Session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
    keepSessionAlive(session, keepaliveTimeMs, keepaliveTimeoutMs);
    if (draining) session.close();
  });

  const serve = (socket: net.Socket, protocol: WireProtocol): void => {
    if (protocol === "h2") {
      h2.emit("connection", socket);
      return;
    }
    h1Sockets.add(socket);
    socket.once("close", () => h1Sockets.delete(socket));
    h1.emit("connection", socket);
    // The HTTP/1.1 server does not resume a socket handed over paused (HTTP/2 reads the buffered bytes itself).
    socket.resume();
  };
  const firstByteTimeoutMs = options.firstByteTimeoutMs ?? 10_000;
  const server = options.tls
    ? tlsServer(options.tls, firstByteTimeoutMs, serve, logger)
    : net.createServer({ noDelay: true }, (socket) => {
        sniffProtocol(socket, firstByteTimeoutMs, serve);
      });
  // Every accepted TCP connection (TLS handshakes included), for keepalive and for the end of the grace period.
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if (keepaliveTimeMs > 0) socket.setKeepAlive(true, keepaliveTimeMs);
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
        let cut: NodeJS.Timeout | undefined;
        const timer = setTimeout(() => {
          logger?.warn({ graceMs }, "connect server grace period over, aborting remaining calls");
          registry.force();
          // The aborted calls still answer UNAVAILABLE (SHUTTING_DOWN); connections left after that are cut.
          cut = setTimeout(() => {
            for (const socket of sockets) socket.destroy();
          }, abortedCallsMs);
        }, graceMs);
        // Resolves once every accepted connection has closed.
        server.close(() => {
          clearTimeout(timer);
          clearTimeout(cut);
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

/**
 * The TLS listener of the Connect port: the protocol comes from ALPN, and a
 * handshake must finish within the first-byte timeout. With a client CA,
 * clients without a certificate it signed fail the handshake and never reach
 * a handler.
 */
function tlsServer(
  options: TlsOptions,
  handshakeTimeoutMs: number,
  serve: (socket: net.Socket, protocol: WireProtocol) => void,
  logger: Logger | undefined,
): tls.Server {
  const mutual = options.clientCa !== undefined;
  const server = tls.createServer(
    {
      cert: options.cert,
      key: options.key,
      ca: options.clientCa,
      requestCert: mutual,
      rejectUnauthorized: mutual,
      ALPNProtocols: ALPN_PROTOCOLS,
      handshakeTimeout: handshakeTimeoutMs,
      noDelay: true,
    },
    (socket) => serve(socket, socket.alpnProtocol === "h2" ? "h2" : "http/1.1"),
  );
  server.on("tlsClientError", (err) => logger?.debug({ err }, "tls handshake failed"));
  return server;
}
