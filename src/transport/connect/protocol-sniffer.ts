import type { Socket } from "node:net";

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type WireProtocol = "h2" | "http/1.1";

/**
 * Reads just enough of a new cleartext connection to tell HTTP/2 with prior
 * knowledge (h2c, what gRPC clients speak) from HTTP/1.1, then hands the
 * socket over with the bytes read put back. Node 20's
 * `http2.createServer({allowHTTP1: true})` only falls back to HTTP/1.1 over
 * TLS (through ALPN); on a cleartext port it answers HTTP/1.1 with a protocol
 * error. HTTP/1.1 is decided at the first byte that differs from the preface
 * (the second byte of "POST"), HTTP/2 once all 24 bytes have matched.
 *
 * A connection that sends nothing within `timeoutMs` is destroyed.
 */
export function sniffProtocol(
  socket: Socket,
  timeoutMs: number,
  route: (socket: Socket, protocol: WireProtocol) => void,
): void {
  let seen: Buffer | undefined;
  const onError = (): void => {
    cleanup();
  };
  const onTimeout = (): void => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, preface.length);
    let protocol: WireProtocol;
    if (seen.compare(preface, 0, n, 0, n) !== 0) {
      protocol = "http/1.1";
    } else if (seen.length >= preface.length) {
      protocol = "h2";
    } else {
      return;
    }
    cleanup();
    socket.pause();
    socket.unshift(seen);
    route(socket, protocol);
  };
  function cleanup(): void {
    socket.setTimeout(0);
    socket.off("data", onData);
    socket.off("error", onError);
    socket.off("timeout", onTimeout);
  }
  socket.on("data", onData);
  socket.on("error", onError);
  socket.on("timeout", onTimeout);
  socket.setTimeout(timeoutMs);
}
