import { Metadata } from "@grpc/grpc-js";

/**
 * Headers an implementation may not set as gRPC metadata: the protocol owns
 * them (grpc-js writes status and content type itself, and HTTP/2 forbids the
 * connection-specific ones).
 */
const reserved = new Set([
  "content-type",
  "te",
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
]);

const legalKey = /^[0-9a-z_.-]+$/;
const legalValue = /^[ -~]*$/;

/**
 * Request metadata as the header pairs a handler context is built from.
 * Binary (`-bin`) values are base64-encoded, which is what connect-node hands
 * its handlers for the same request, so an implementation sees one shape on
 * both ports. Pairs rather than a `Headers` object: the context constructor
 * copies its input into a fresh `Headers` anyway.
 */
export function metadataToHeaderPairs(metadata: Metadata): [string, string][] {
  const pairs: [string, string][] = [];
  const map = metadata.toJSON();
  for (const key in map) {
    const values = map[key];
    if (values === undefined) continue;
    for (const value of values) {
      pairs.push([key, typeof value === "string" ? value : value.toString("base64")]);
    }
  }
  return pairs;
}

/**
 * Copies headers into gRPC metadata, skipping protocol-owned names and values
 * grpc-js would reject (it throws on non-ASCII text, which must never take a
 * response down). `-bin` values are expected base64, possibly comma-joined.
 * Returns `target` (created on demand), or undefined when nothing was copied.
 */
export function appendHeadersToMetadata(headers: Headers, target?: Metadata): Metadata | undefined {
  let metadata = target;
  for (const [key, value] of headers) {
    if (reserved.has(key) || !legalKey.test(key)) continue;
    if (key.endsWith("-bin")) {
      metadata ??= new Metadata();
      for (const part of value.split(",")) {
        metadata.add(key, Buffer.from(part.trim(), "base64"));
      }
    } else if (legalValue.test(value)) {
      metadata ??= new Metadata();
      metadata.add(key, value);
    }
  }
  return metadata;
}
