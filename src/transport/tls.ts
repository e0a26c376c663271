import { ServerCredentials } from "@grpc/grpc-js";

/** A server's TLS material (PEM); with `clientCa`, clients must present a certificate it signed (mTLS). */
export interface TlsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer | undefined;
}

/** grpc-js credentials for `TlsOptions`: plaintext when undefined; client certificates checked when a CA is given. */
export function grpcCredentials(tls: TlsOptions | undefined): ServerCredentials {
  if (tls === undefined) {
    return ServerCredentials.createInsecure();
  }
  return ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ private_key: tls.key, cert_chain: tls.cert }],
    tls.clientCa !== undefined,
  );
}

/** ALPN protocols of the Connect port over TLS: HTTP/2 first, HTTP/1.1 for Connect and gRPC-Web clients that lack it. */
export const ALPN_PROTOCOLS = ["h2", "http/1.1"];
