import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WatchPositionResponseSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { verifyPass, type PassKeyring } from "../src/pass/pass.js";
import { peekTicket, percentile } from "./grpc-wire.js";

const WAITING = 1;
const ADMITTED = 2;
const WINDOW_MS = 5_000;

/** What the on-sale client saw, summed over every user. */
export interface OnSaleTallySummary {
  readonly joined: number;
  readonly joinP50Ms: number;
  readonly joinP99Ms: number;
  /** WatchPosition messages received, the final ones included. */
  readonly messages: number;
  /** Users whose stream delivered an ADMITTED ticket with a pass. */
  readonly admitted: number;
  /**
   * Passes that came before the stream had shown a place: as its first
   * message (rush), or straight after the pre-queue's 0 (opening). The user
   * was admitted before the watch loop had read their ticket.
   */
  readonly unplaced: { readonly passes: number; readonly p50Ms: number; readonly p99Ms: number };
  /** From a pass's issued_at to the arrival of its message, ms. */
  readonly deliveryP50Ms: number;
  readonly deliveryP99Ms: number;
  readonly deliveryMaxMs: number;
  /** Deliveries within `tickMs` of their admission. */
  readonly withinTick: number;
  /** Earliest and latest issued_at of all passes, epoch ms. */
  readonly firstIssuedMs: number;
  readonly lastIssuedMs: number;
  /** Passes issued at `firstIssuedMs`: the first admission step, which may spend a full bucket at once. */
  readonly firstStep: number;
  /** Pass delivery by when the pass was issued, in windows of `WINDOW_MS` from the first. */
  readonly byWindow: ReadonlyArray<{ readonly fromMs: number; readonly passes: number; readonly p50Ms: number; readonly p99Ms: number }>;
  /** With a pre-queue: when the median and the last stream heard their first place (or their pass), epoch ms. */
  readonly placedP50AtMs: number;
  readonly placedLastAtMs: number;
  /** With a pre-queue: when the last of the head tenth of the line (by the place they first heard; a pass counts as the head) heard it, epoch ms. */
  readonly placedHeadAtMs: number;
  /** Every broken expectation, by kind: empty when the run was right. */
  readonly failures: Readonly<Record<string, number>>;
}

/**
 * Everything the on-sale client checks and times, per user n, kept in typed
 * arrays so 50,000 users cost a few MB. A user's life: `joined`, then each
 * `message` of their WatchPosition stream, then `ended`. Only the final,
 * ADMITTED message is decoded with protobuf-es; the others are peeked.
 */
export class OnSaleTally {
  readonly #tickMs: number;
  readonly #preQueue: boolean;
  readonly #joinMs: Float64Array;
  /** Last place seen (from the Join, then the stream); checked never to grow. */
  readonly #position: Int32Array;
  /** 1 once user n's stream delivered anything. */
  readonly #heard: Uint8Array;
  /** Pass issued_at and arrival of the ADMITTED message, epoch ms; 0 until then. */
  readonly #issuedMs: Float64Array;
  readonly #deliveredMs: Float64Array;
  /** With a pre-queue: arrival of the first message after position 0, epoch ms; 0 until then. */
  readonly #placedMs: Float64Array;
  /** With a pre-queue: the first place user n heard (0 when it was the pass). */
  readonly #firstPlace: Int32Array;
  /** 1 when user n's pass came before any place (see `unplaced`). */
  readonly #unplaced: Uint8Array;
  readonly #tokens: Array<string | undefined>;
  readonly #failures: Record<string, number> = {};
  #joined = 0;
  #heardCount = 0;
  #admitted = 0;
  #messages = 0;

  /** `preQueue`: users join before the sale opens, so they wait at position 0 until the opening shuffle. */
  constructor(users: number, tickMs: number, preQueue: boolean) {
    this.#tickMs = tickMs;
    this.#preQueue = preQueue;
    this.#joinMs = new Float64Array(users);
    this.#position = new Int32Array(users);
    this.#heard = new Uint8Array(users);
    this.#issuedMs = new Float64Array(users);
    this.#deliveredMs = new Float64Array(users);
    this.#placedMs = new Float64Array(preQueue ? users : 0);
    this.#firstPlace = new Int32Array(preQueue ? users : 0);
    this.#unplaced = new Uint8Array(users);
    this.#tokens = new Array<string | undefined>(users);
  }

  get joinedCount(): number {
    return this.#joined;
  }

  /** Streams that delivered at least one message. */
  get heardCount(): number {
    return this.#heardCount;
  }

  get admittedCount(): number {
    return this.#admitted;
  }

  fail(kind: string, count = 1): void {
    this.#failures[kind] = (this.#failures[kind] ?? 0) + count;
  }

  /** A Join answered: true when it succeeded with a WAITING ticket, so the user's stream may open. */
  joined(n: number, ms: number, status: string, message: Buffer | undefined): boolean {
    if (status !== "0" || message === undefined) {
      this.fail(`Join grpc-status ${status}`);
      return false;
    }
    // JoinResponse keeps its Ticket in field 1, like WatchPositionResponse.
    const { state, position } = peekTicket(message);
    if (state !== WAITING || (this.#preQueue ? position !== 0 : position < 1)) {
      this.fail(`Join answered state ${state}, position ${position}`);
      return false;
    }
    this.#joinMs[this.#joined++] = ms;
    this.#position[n] = position;
    return true;
  }

  /** One WatchPosition message of user n, received at `at` (epoch ms). */
  message(n: number, message: Buffer, at: number): void {
    this.#messages++;
    const first = this.#heard[n] === 0;
    if (first) {
      this.#heard[n] = 1;
      this.#heardCount++;
    }
    if (this.#deliveredMs[n] !== 0) {
      this.fail("message after ADMITTED");
      return;
    }
    const { state, position } = peekTicket(message);
    const last = this.#position[n] as number;
    if (this.#preQueue && last === 0 && (position !== 0 || state === ADMITTED)) {
      this.#placedMs[n] = at;
      this.#firstPlace[n] = state === ADMITTED ? 0 : position;
    }
    if (state === WAITING) {
      // 0 is the pre-queue: allowed until the first real place, which may be anything.
      if (position === 0 ? last !== 0 : last !== 0 && position > last) {
        this.fail(position === 0 ? "back to position 0 after a place" : "position grew while waiting");
      }
      this.#position[n] = position;
      return;
    }
    if (state !== ADMITTED) {
      this.fail(`stream ended in state ${state}`);
      return;
    }
    const pass = fromBinary(WatchPositionResponseSchema, message).ticket?.pass;
    if (!pass?.token || !pass.issuedAt) {
      this.fail("ADMITTED without a pass");
      return;
    }
    this.#issuedMs[n] = timestampMs(pass.issuedAt);
    this.#deliveredMs[n] = at;
    this.#tokens[n] = pass.token;
    this.#admitted++;
    if (first || (this.#preQueue && last === 0)) this.#unplaced[n] = 1;
  }

  /** User n's stream closed with `status` ("missing" without one, "stream-error" on a reset). */
  ended(n: number, status: string): void {
    if (status !== "0") this.fail(`WatchPosition grpc-status ${status}`);
    else if (this.#deliveredMs[n] === 0) this.fail("stream ended without ADMITTED");
  }

  /** Checks every pass received: signed by `keys`, for this event and user, with the issued_at it was sent with. */
  verifyPasses(keys: PassKeyring, eventId: string, userId: (n: number) => string): void {
    for (let n = 0; n < this.#tokens.length; n++) {
      const token = this.#tokens[n];
      if (token === undefined) continue;
      const result = verifyPass(token, keys, { eventId, userId: userId(n) });
      if (result.kind !== "valid") this.fail(`pass ${result.kind}`);
      else if (result.claims.issuedAtMs !== this.#issuedMs[n]) this.fail("pass claims another issued_at");
    }
  }

  summary(): OnSaleTallySummary {
    const delivery: number[] = [];
    const unplaced: number[] = [];
    let firstIssuedMs = Number.POSITIVE_INFINITY;
    let lastIssuedMs = Number.NEGATIVE_INFINITY;
    for (let n = 0; n < this.#deliveredMs.length; n++) {
      const issued = this.#issuedMs[n] as number;
      if (this.#deliveredMs[n] === 0) continue;
      delivery.push((this.#deliveredMs[n] as number) - issued);
      if (this.#unplaced[n] === 1) unplaced.push((this.#deliveredMs[n] as number) - issued);
      firstIssuedMs = Math.min(firstIssuedMs, issued);
      lastIssuedMs = Math.max(lastIssuedMs, issued);
    }
    let firstStep = 0;
    for (let n = 0; n < this.#issuedMs.length; n++) {
      if (this.#deliveredMs[n] !== 0 && this.#issuedMs[n] === firstIssuedMs) firstStep++;
    }
    const placed = this.#placedMs.slice().sort();
    const sorted = Float64Array.from(delivery).sort();
    const sortedUnplaced = Float64Array.from(unplaced).sort();
    const joins = this.#joinMs.slice(0, this.#joined).sort();
    return {
      joined: this.#joined,
      joinP50Ms: percentile(joins, 50),
      joinP99Ms: percentile(joins, 99),
      messages: this.#messages,
      admitted: this.#admitted,
      unplaced: { passes: unplaced.length, p50Ms: percentile(sortedUnplaced, 50), p99Ms: percentile(sortedUnplaced, 99) },
      deliveryP50Ms: percentile(sorted, 50),
      deliveryP99Ms: percentile(sorted, 99),
      deliveryMaxMs: percentile(sorted, 100),
      withinTick: delivery.filter((ms) => ms <= this.#tickMs).length,
      firstIssuedMs,
      lastIssuedMs,
      firstStep,
      byWindow: this.#byWindow(firstIssuedMs),
      placedP50AtMs: percentile(placed, 50),
      placedLastAtMs: percentile(placed, 100),
      placedHeadAtMs: this.#placedHeadAtMs(),
      failures: { ...this.#failures },
    };
  }

  #placedHeadAtMs(): number {
    const head = Math.ceil(this.#firstPlace.length / 10);
    let at = 0;
    for (let n = 0; n < this.#firstPlace.length; n++) {
      if ((this.#firstPlace[n] as number) <= head) at = Math.max(at, this.#placedMs[n] as number);
    }
    return at;
  }

  #byWindow(firstIssuedMs: number): OnSaleTallySummary["byWindow"] {
    const windows: number[][] = [];
    for (let n = 0; n < this.#deliveredMs.length; n++) {
      if (this.#deliveredMs[n] === 0) continue;
      const issued = this.#issuedMs[n] as number;
      const at = Math.floor((issued - firstIssuedMs) / WINDOW_MS);
      (windows[at] ??= []).push((this.#deliveredMs[n] as number) - issued);
    }
    return Array.from(windows, (ms = [], i) => {
      const sorted = Float64Array.from(ms).sort();
      return { fromMs: i * WINDOW_MS, passes: ms.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    });
  }
}
