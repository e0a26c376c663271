import { StoredTicketState } from "../redis/outcomes.js";
import type { TicketView } from "../queue/types.js";
import { EncodedOutput } from "../rpc/encoded-output.js";

/**
 * Encodes the WatchPositionResponse messages of one stream, byte for byte
 * what `toBinary` makes of `{ ticket: ticketMessage(view) }`, without
 * building the message: a stream's event id, user id and join time never
 * change, so their bytes are made once, and each message writes only state,
 * position, waiting total and estimated wait around them (a few varints).
 *
 * Only tickets without a pass or an opening time take this path (`prepare`
 * answers undefined for the others, which are rare: the last message of an
 * admitted user, a pre-queue place): the caller builds those the usual way.
 */
export class TicketStreamEncoder {
  #eventId = "";
  #userId = "";
  /** Fields 1 and 2 of the Ticket: event id and user id. */
  #head: Uint8Array = EMPTY;
  #joinedAtMs = Number.NaN;
  /** Field 7 of the Ticket: joined_at. */
  #tail: Uint8Array = EMPTY;

  /**
   * The response, ready to be written where the transport wants it (no
   * bytes of its own), or undefined when the ticket is not one this encoder
   * writes.
   */
  prepare(view: TicketView): EncodedTicket | undefined {
    const { position, waitingTotal, estimatedWaitSeconds: wait } = view;
    const state: number = view.state;
    const admitted = state === StoredTicketState.ADMITTED && view.issuedAtMs !== undefined && view.expiresAtMs !== undefined;
    if (admitted || view.opensAtMs !== undefined || !small(state) || !small(position) || !small(waitingTotal) || (wait !== undefined && !small(wait))) {
      return undefined;
    }
    if (view.eventId !== this.#eventId || view.userId !== this.#userId) {
      this.#eventId = view.eventId;
      this.#userId = view.userId;
      this.#head = concat(stringField(1, view.eventId), stringField(2, view.userId));
    }
    if (view.joinedAtMs !== this.#joinedAtMs) {
      const tail = timestampField(7, view.joinedAtMs);
      if (tail === undefined) {
        return undefined;
      }
      this.#joinedAtMs = view.joinedAtMs;
      this.#tail = tail;
    }
    return new EncodedTicket(this.#head, this.#tail, state, position, waitingTotal, wait);
  }

  /** The response's wire bytes, or undefined when the ticket is not one this encoder writes. */
  encode(view: TicketView): Uint8Array | undefined {
    return this.prepare(view)?.toBytes();
  }
}

/** One WatchPositionResponse as `TicketStreamEncoder` writes it: the stream's fixed bytes and this message's numbers. */
export class EncodedTicket extends EncodedOutput {
  readonly byteLength: number;
  readonly #ticketSize: number;

  constructor(
    private readonly head: Uint8Array,
    private readonly tail: Uint8Array,
    private readonly state: number,
    private readonly position: number,
    private readonly waitingTotal: number,
    private readonly wait: number | undefined,
  ) {
    super();
    const ticketSize =
      head.length +
      (state === 0 ? 0 : 1 + varintSize(state)) +
      (position === 0 ? 0 : 1 + varintSize(position)) +
      (waitingTotal === 0 ? 0 : 1 + varintSize(waitingTotal)) +
      (wait === undefined ? 0 : 1 + varintSize(wait)) +
      tail.length;
    this.#ticketSize = ticketSize;
    this.byteLength = 1 + varintSize(ticketSize) + ticketSize;
  }

  writeTo(bytes: Uint8Array): void {
    const { head, tail, state, position, waitingTotal, wait } = this;
    bytes[0] = 0x0a; // WatchPositionResponse.ticket, length-delimited
    let at = writeVarint(bytes, 1, this.#ticketSize);
    bytes.set(head, at);
    at += head.length;
    if (state !== 0) {
      bytes[at++] = 0x18; // state = 3, varint
      at = writeVarint(bytes, at, state);
    }
    if (position !== 0) {
      bytes[at++] = 0x20; // position = 4
      at = writeVarint(bytes, at, position);
    }
    if (waitingTotal !== 0) {
      bytes[at++] = 0x28; // waiting_total = 5
      at = writeVarint(bytes, at, waitingTotal);
    }
    if (wait !== undefined) {
      bytes[at++] = 0x30; // estimated_wait_seconds = 6 (explicit presence: 0 is written)
      at = writeVarint(bytes, at, wait);
    }
    bytes.set(tail, at);
  }
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/** A non-negative int32: one to five varint bytes (negative int32s take ten; they never occur here). */
function small(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0x7fffffff;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeVarint(bytes: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    bytes[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  bytes[at++] = n;
  return at;
}

function field(number: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(1 + varintSize(payload.length) + payload.length);
  bytes[0] = (number << 3) | 2;
  bytes.set(payload, writeVarint(bytes, 1, payload.length));
  return bytes;
}

function stringField(number: number, value: string): Uint8Array {
  return value === "" ? EMPTY : field(number, utf8.encode(value));
}

/** A google.protobuf.Timestamp field for epoch ms at or after 1970 (seconds within 2^53); undefined otherwise. */
function timestampField(number: number, ms: number): Uint8Array | undefined {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    return undefined;
  }
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  const body = new Uint8Array((seconds === 0 ? 0 : 1 + varintSize(seconds)) + (nanos === 0 ? 0 : 1 + varintSize(nanos)));
  let at = 0;
  if (seconds !== 0) {
    body[at++] = 0x08;
    at = writeVarint(body, at, seconds);
  }
  if (nanos !== 0) {
    body[at++] = 0x10;
    writeVarint(body, at, nanos);
  }
  return field(number, body);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(a.length + b.length);
  bytes.set(a, 0);
  bytes.set(b, a.length);
  return bytes;
}
