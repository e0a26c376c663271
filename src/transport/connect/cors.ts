import { cors } from "@connectrpc/connect";
import type http from "node:http";
import type http2 from "node:http2";

/** Origins allowed to call from a browser: a list of exact origins, or `"*"` for any. */
export type CorsOrigins = "*" | readonly string[];

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

/**
 * Request headers a page may send: what connect-web needs for the Connect and
 * gRPC-Web protocols (content type, protocol version, timeouts, gRPC-Web
 * markers) plus `authorization`, which callers send once they authenticate.
 */
const ALLOWED_HEADERS = [...cors.allowedHeaders, "Authorization"].join(", ");
/** Response headers a page may read: gRPC-Web's status, message and details, and encodings. */
const EXPOSED_HEADERS = cors.exposedHeaders.join(", ");
const ALLOWED_METHODS = cors.allowedMethods.join(", ");
/** Browsers cap this (Chromium at 2 h); one preflight per page per two hours at most. */
const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/**
 * Lets pages served from other origins call the Connect port: answers CORS
 * preflights itself (204, before connect sees them: connect answers OPTIONS
 * with 405) and marks actual responses readable by the page, exposing the
 * gRPC-Web status headers a browser client needs to see an error at all.
 *
 * Requests without an `Origin`, or from an origin not listed, pass through
 * untouched: the browser then refuses the response, as without CORS. With no
 * origins configured the handler is returned as it is.
 */
export function withCors(handler: Handler, origins: CorsOrigins): Handler {
  if (origins !== "*" && origins.length === 0) {
    return handler;
  }
  const allowed = origins === "*" ? undefined : new Set(origins);
  return (req, res) => {
    res.setHeader("Vary", "Origin");
    const origin = req.headers.origin;
    if (typeof origin !== "string" || (allowed !== undefined && !allowed.has(origin))) {
      handler(req, res);
      return;
    }
    res.setHeader("Access-Control-Allow-Origin", allowed === undefined ? "*" : origin);
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      res.writeHead(204, {
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_SECONDS),
        "Content-Length": "0",
      });
      res.end();
      return;
    }
    res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    handler(req, res);
  };
}

/**
 * Reads `CORS_ORIGINS`: empty for none, `*` for any, or a comma list of
 * origins written exactly as browsers send them (`https://app.example.com`,
 * `http://localhost:5173`: scheme, host, port if not the default, no path or
 * trailing slash). Returns the problems instead when an entry is not one.
 */
export function parseCorsOrigins(spec: string | undefined): { readonly origins: CorsOrigins } | { readonly problems: readonly string[] } {
  const text = (spec ?? "").trim();
  if (text === "") {
    return { origins: [] };
  }
  if (text === "*") {
    return { origins: "*" };
  }
  const problems: string[] = [];
  const origins = text.split(",").map((entry) => entry.trim());
  origins.forEach((origin, index) => {
    if (!isOrigin(origin)) {
      problems.push(`CORS_ORIGINS entry ${index + 1} must be an origin like https://app.example.com (or the whole value "*"), got "${origin}"`);
    }
  });
  return problems.length > 0 ? { problems } : { origins: Object.freeze(origins) };
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text;
  } catch {
    return false;
  }
}
