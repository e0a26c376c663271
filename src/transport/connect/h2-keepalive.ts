import type { ServerHttp2Session } from "node:http2";

/**
 * Sends an HTTP/2 PING every `intervalMs` and destroys the session when one is
 * not acknowledged within `timeoutMs`. Node's http2 server sends no pings of
 * its own; without them, streams that stay quiet for minutes die silently in
 * proxies and NATs, and dead peers are never noticed.
 */
export function keepSessionAlive(session: ServerHttp2Session, intervalMs: number, timeoutMs: number): void {
  if (intervalMs <= 0) return;
  let deadline: NodeJS.Timeout | undefined;
  const interval = setInterval(() => {
    if (session.closed || session.destroyed || deadline !== undefined) return;
    deadline = setTimeout(() => session.destroy(), timeoutMs).unref();
    session.ping((err) => {
      clearTimeout(deadline);
      deadline = undefined;
      if (err && !session.destroyed) session.destroy();
    });
  }, intervalMs).unref();
  session.once("close", () => {
    clearInterval(interval);
    clearTimeout(deadline);
  });
}
