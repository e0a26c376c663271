/**
 * Seat load: HoldSeats (explicit pairs, best-available pairs, general
 * admission), ConfirmHold of earlier holds, or the Health/Check baseline
 * through the same client. Every call is a different request from a
 * different user, pre-encoded with protobuf-es before the run; responses are
 * kept and decoded only after it (`fromBinary`), so checking them costs the
 * measurement nothing. Holds are written to a file for a later ConfirmHold run.
 *
 * Run as a child of the benchmark: reads its job from `BENCH_JOB` (JSON),
 * reports a `SeatLoadReport` over IPC and exits.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  ConfirmHoldRequestSchema,
  ConfirmHoldResponseSchema,
  HoldSeatsRequestSchema,
  HoldSeatsResponseSchema,
  HoldState,
  type Hold,
} from "../gen/boxoffice/v1/seats_pb.js";
import { frame } from "./grpc-wire.js";
import { bestSection, explicitPair, GA_TIER, PAIR, PAIRS_PER_HALF, sectionOf } from "./seat-plan.js";
import { HEALTH_CHECK, healthCheckBody } from "./service.js";
import { childMain, drive, type DriveJob, type DriveResult } from "./stream-driver.js";

export type SeatScenario = "baseline" | "explicit" | "best" | "confirm" | "ga";

export interface SeatLoadJob extends Omit<DriveJob, "path"> {
  readonly scenario: SeatScenario;
  readonly eventId: string;
  /** Users are `<prefix><n>`, one per request. */
  readonly userPrefix: string;
  /** Requests to prepare for "ga" and "baseline" (the others are bounded by the venue or by the holds to confirm). */
  readonly maxRequests: number;
  /** Where "explicit" and "best" write their holds, one `holdId userId` per line. */
  readonly holdsOut?: string;
  /** Hold files whose holds "confirm" confirms, in order; missing files are skipped. */
  readonly holdsIn?: readonly string[];
  /**
   * For "explicit" run by several clients on one event: this client asks for
   * every `of`-th pair from the `index`-th, so the clients never want the same seat.
   */
  readonly share?: { readonly index: number; readonly of: number };
}

export interface SeatLoadReport extends DriveResult {
  readonly kind: "report";
  readonly prepared: number;
  /** Seats (or GA places) in the successful responses of the whole run, warm-up included. */
  readonly seats: number;
}

const HOLD_SEATS = "/boxoffice.v1.SeatService/HoldSeats";
const CONFIRM_HOLD = "/boxoffice.v1.SeatService/ConfirmHold";

type Check = (hold: Hold | undefined, n: number) => string | undefined;

interface Plan {
  readonly path: string;
  readonly count: number;
  readonly body: (n: number) => Buffer;
  /** Response schema and the check of one decoded hold; none for the baseline. */
  readonly response?: { readonly schema: DescMessage; readonly check: Check };
}

function plan(job: SeatLoadJob): Plan {
  const { eventId } = job;
  const { index, of } = job.share ?? { index: 0, of: 1 };
  const pair = (n: number): [string, string] => explicitPair(n * of + index);
  const userId = (n: number): string => `${job.userPrefix}${n}`;
  const hold = (count: number, selection: (n: number) => MessageInitShape<typeof HoldSeatsRequestSchema>["selection"]): Buffer[] =>
    encodeAll(HoldSeatsRequestSchema, count, (n) => ({ eventId, userId: userId(n), selection: selection(n) }));
  const held = (hold: Hold | undefined, n: number): hold is Hold =>
    hold !== undefined && hold.state === HoldState.HELD && hold.userId === userId(n) && hold.eventId === eventId;
  switch (job.scenario) {
    case "baseline": {
      const body = frame(healthCheckBody);
      return { path: HEALTH_CHECK, count: job.maxRequests, body: () => body };
    }
    case "explicit": {
      const bodies = hold(Math.floor((PAIRS_PER_HALF - index - 1) / of) + 1, (n) => ({ case: "seats", value: { seatIds: pair(n) } }));
      const check: Check = (h, n) => (held(h, n) && h.seatIds.join() === pair(n).join() ? undefined : "not the requested pair");
      return holdPlan(HOLD_SEATS, bodies, check);
    }
    case "best": {
      const bodies = hold(PAIRS_PER_HALF, (n) => ({ case: "bestAvailable", value: { sectionId: bestSection(n), quantity: PAIR } }));
      const check: Check = (h, n) =>
        held(h, n) && h.seatIds.length === PAIR && h.seatIds.every((s) => sectionOf(s) === bestSection(n)) ? undefined : "not a pair of the section";
      return holdPlan(HOLD_SEATS, bodies, check);
    }
    case "ga": {
      const bodies = hold(job.maxRequests, () => ({ case: "generalAdmission", value: { tierId: GA_TIER, quantity: PAIR } }));
      const check: Check = (h, n) => (held(h, n) && h.tierId === GA_TIER && h.quantity === PAIR ? undefined : "not a GA pair");
      return holdPlan(HOLD_SEATS, bodies, check);
    }
    case "confirm": {
      const holds = (job.holdsIn ?? []).filter((file) => existsSync(file)).flatMap((file) =>
        readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ") as [string, string]),
      );
      const order = (n: number): string => `o-${job.userPrefix}${n}`;
      const at = (n: number): [string, string] => holds[n] as [string, string];
      const bodies = encodeAll(ConfirmHoldRequestSchema, holds.length, (n) => ({ eventId, holdId: at(n)[0], userId: at(n)[1], orderId: order(n) }));
      const check: Check = (h, n) =>
        h?.state === HoldState.CONFIRMED && h.holdId === at(n)[0] && h.orderId === order(n) && h.seatIds.length === PAIR ? undefined : "not confirmed";
      return { path: CONFIRM_HOLD, count: bodies.length, body: (n) => bodies[n] as Buffer, response: { schema: ConfirmHoldResponseSchema, check } };
    }
  }
}

function holdPlan(path: string, bodies: readonly Buffer[], check: Check): Plan {
  return { path, count: bodies.length, body: (n) => bodies[n] as Buffer, response: { schema: HoldSeatsResponseSchema, check } };
}

function encodeAll<Desc extends DescMessage>(schema: Desc, count: number, init: (n: number) => MessageInitShape<Desc>): Buffer[] {
  return Array.from({ length: count }, (_, n) => frame(toBinary(schema, create(schema, init(n)))));
}

async function run(job: SeatLoadJob): Promise<SeatLoadReport> {
  const p = plan(job);
  const responses: Buffer[] = [];
  const keep = p.response ? (n: number, message: Buffer): void => void (responses[n] = message) : undefined;
  const result = await drive({ ...job, path: p.path }, { count: p.count, body: p.body }, keep);

  let seats = 0;
  const lines: string[] = [];
  if (p.response) {
    const { schema, check } = p.response;
    responses.forEach((message, n) => {
      const hold = (fromBinary(schema, message) as { hold?: Hold }).hold;
      const problem = check(hold, n);
      if (problem !== undefined || hold === undefined) {
        throw new Error(`${job.scenario} call ${n}: ${problem ?? "no hold"} (${JSON.stringify(hold)})`);
      }
      seats += hold.tierId === "" ? hold.seatIds.length : hold.quantity;
      lines.push(`${hold.holdId} ${hold.userId}`);
    });
    if (lines.length !== result.okTotal) throw new Error(`${lines.length} responses kept, ${result.okTotal} successful calls`);
  }
  if (job.holdsOut) writeFileSync(job.holdsOut, `${lines.join("\n")}\n`);
  return { kind: "report", ...result, prepared: p.count, seats };
}

childMain("seat-client", run);
