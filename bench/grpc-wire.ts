import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";

/** gRPC's length-prefixed message: 1 byte compression flag (0), 4 bytes big-endian length, then the bytes. */
export function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

/** A request message, encoded with protobuf-es and framed for the wire. */
export function framedRequest<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Buffer {
  return frame(toBinary(schema, create(schema, init)));
}

/** The request headers every gRPC call over plain HTTP/2 carries. */
export function grpcHeaders(path: string): Record<string, string> {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
  };
}

/**
 * Splits a response body into gRPC messages as DATA chunks arrive; a message
 * may span chunks and a chunk may hold several messages.
 */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds a chunk and returns the messages it completed (payloads without the 5-byte prefix). */
  push(chunk: Buffer): Buffer[] {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: Buffer[] = [];
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (buffer.length < 5 + length) break;
      messages.push(buffer.subarray(5, 5 + length));
      buffer = buffer.subarray(5 + length);
    }
    this.#pending = buffer;
    return messages;
  }
}

/**
 * Join requests for users `<prefix><n>` with n zero-padded to a fixed width,
 * so every frame has the same length and they can be laid out in one slab
 * ahead of the measurement (no encoding work on the load generator's hot
 * path). The last frame is checked against protobuf-es's own encoding.
 * WatchPositionRequest and GetPositionRequest have the same two fields, so
 * they are laid out alike.
 */
export class JoinBodies {
  readonly #slab: Buffer;
  readonly #size: number;
  readonly count: number;
  /** The user id of request n. */
  readonly userId: (n: number) => string;

  constructor(schema: DescMessage, eventId: string, userPrefix: string, count: number) {
    const width = String(count - 1).length;
    const userId = (n: number): string => numberedUserId(userPrefix, n, count);
    this.userId = userId;
    const template = framedRequest(schema, { eventId, userId: userId(0) } as MessageInitShape<DescMessage>);
    const digitsAt = template.length - width;
    this.#size = template.length;
    this.#slab = Buffer.allocUnsafe(this.#size * count);
    for (let n = 0; n < count; n++) {
      const at = n * this.#size;
      template.copy(this.#slab, at);
      this.#slab.write(String(n).padStart(width, "0"), at + digitsAt, "latin1");
    }
    const last = framedRequest(schema, { eventId, userId: userId(count - 1) } as MessageInitShape<DescMessage>);
    if (!last.equals(this.body(count - 1))) {
      throw new Error("pre-encoded Join bodies differ from protobuf-es's encoding");
    }
    this.count = count;
  }

  /** The framed request of user n (a view into the slab). */
  body(n: number): Buffer {
    return this.#slab.subarray(n * this.#size, (n + 1) * this.#size);
  }
}

/** User n of `count` as `JoinBodies` names them: `<prefix><n>`, n zero-padded to the width of `count - 1`. */
export function numberedUserId(prefix: string, n: number, count: number): string {
  return `${prefix}${String(n).padStart(String(count - 1).length, "0")}`;
}

/** The p-th percentile (0–100) of ascending `sorted`, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * Reads `ticket.state` and `ticket.position` from an encoded
 * WatchPositionResponse without decoding the rest: the fan-out client sees
 * 10,000 of these at once and should not be the bottleneck it measures.
 * Checked against protobuf-es on every stream's first message.
 */
export function peekTicket(message: Uint8Array): { state: number; position: number } {
  const out = { state: 0, position: 0 };
  const ticket = field(message, 0, message.length, 1);
  if (ticket === undefined) return out;
  let at = ticket.start;
  while (at < ticket.end) {
    const [tag, afterTag] = varint(message, at);
    at = afterTag;
    const wire = tag & 7;
    if (wire === 0) {
      const [value, after] = varint(message, at);
      if (tag >>> 3 === 3) out.state = value;
      if (tag >>> 3 === 4) out.position = value;
      at = after;
    } else {
      at = skip(message, at, wire);
    }
  }
  return out;
}

/** The bounds of the first length-delimited field `number` in `bytes[start, end)`. */
function field(bytes: Uint8Array, start: number, end: number, number: number): { start: number; end: number } | undefined {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(bytes, at);
    if (tag >>> 3 === number && (tag & 7) === 2) {
      const [length, afterLength] = varint(bytes, afterTag);
      return { start: afterLength, end: afterLength + length };
    }
    at = skip(bytes, afterTag, tag & 7);
  }
  return undefined;
}

function skip(bytes: Uint8Array, at: number, wire: number): number {
  switch (wire) {
    case 0:
      return varint(bytes, at)[1];
    case 1:
      return at + 8;
    case 2: {
      const [length, after] = varint(bytes, at);
      return after + length;
    }
    case 5:
      return at + 4;
    default:
      throw new Error(`unsupported wire type ${wire}`);
  }
}

/** A varint up to 2^53 and the offset after it. */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined) throw new Error("truncated varint");
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
}
