/**
 * A server built from service registrations but not yet listening, so tests
 * and the composition root decide the port (tests use 0).
 */
export interface TransportServer {
  /** Starts listening; resolves with the bound port (useful with port 0). Default host "0.0.0.0". */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful stop: refuse new connections, abort every streaming call's
   * `ctx.signal` with an UNAVAILABLE `ConnectError` (so streams end with
   * UNAVAILABLE and clients reconnect elsewhere), let unary calls finish, and
   * after `graceMs` abort whatever is left and drop the connections.
   * Idempotent: later calls return the first call's promise.
   */
  shutdown(graceMs: number): Promise<void>;
}

/** Formats a listen address; IPv6 literals need brackets in `host:port` form. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}
