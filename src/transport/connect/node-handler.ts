import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import type { Logger } from "pino";
import { decodeEncodedOutputs } from "../../rpc/encoded-output.js";
import type { ServiceRegistration } from "../../rpc/registration.js";
import { guardRequests, rejectionInterceptor, type RefusalListener } from "./request-guard.js";

export type NodeHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export interface NodeHandlerOptions {
  readonly interceptors: readonly Interceptor[];
  readonly readMaxBytes: number;
  /** Largest response message; undefined: unlimited. */
  readonly writeMaxBytes?: number;
  readonly logger?: Logger;
  /** Hears of the calls refused as malformed before any handler ran. */
  readonly onRefused?: RefusalListener | undefined;
}

/**
 * connect-node's `connectNodeAdapter`, with every method's handler behind
 * `guardRequests` (malformed requests become INVALID_ARGUMENT with details,
 * never INTERNAL) and `rejectionInterceptor` first in the chain. Same
 * routing: exact path match, 404 otherwise; gzip and brotli accepted.
 * Streamed messages an implementation encoded itself (`EncodedOutput`) are
 * decoded back first: connect-node encodes for each protocol on its own.
 */
export function createNodeHandler(registrations: readonly ServiceRegistration[], options: NodeHandlerOptions): NodeHandler {
  const router = createConnectRouter({
    interceptors: [rejectionInterceptor(options.onRefused), ...options.interceptors],
    readMaxBytes: options.readMaxBytes,
    ...(options.writeMaxBytes === undefined ? {} : { writeMaxBytes: options.writeMaxBytes }),
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  for (const { service, impl } of registrations.map(decodeEncodedOutputs)) router.service(service, impl);
  const paths = new Map<string, { handler: UniversalHandlerFn; rpc: string }>();
  for (const h of router.handlers) {
    paths.set(h.requestPath, { handler: guardRequests(h, h.method, options.readMaxBytes), rpc: `${h.service.typeName}/${h.method.name}` });
  }
  return (req, res) => {
    const route = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (route === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    route
      .handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.logger?.error({ err: reason, rpc: route.rpc }, "connect handler failed");
      });
  };
}
