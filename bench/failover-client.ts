/**
 * The load of the failover scenario: holds `holds` explicit pairs of one
 * event (a closed loop, `concurrency` at a time), says so, then confirms them
 * at a steady `rate` per second — open loop, so calls refused during an
 * outage do not speed the next ones up — for `seconds`, and reports every
 * ConfirmHold: when it was sent and answered (epoch ms), its gRPC code and
 * ErrorInfo reason. Unary calls through the Connect client over gRPC, with a
 * deadline each, so a call stuck on a dead node still ends.
 *
 * Run as a child of the benchmark: reads its job from `BENCH_JOB` (JSON),
 * sends `{ kind: "held" }`, `{ kind: "confirming" }` and a `FailoverLoadReport` over IPC.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SeatService } from "../gen/boxoffice/v1/seats_pb.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { runChild } from "./h2-client.js";
import { explicitPair } from "./seat-plan.js";

export interface FailoverLoadJob {
  readonly port: number;
  readonly eventId: string;
  readonly holds: number;
  readonly concurrency: number;
  readonly rate: number;
  readonly seconds: number;
  readonly deadlineMs: number;
}

export interface HeldHold {
  readonly holdId: string;
  readonly userId: string;
}

/** One ConfirmHold: sent and answered at (epoch ms), the code's name, the ErrorInfo reason and its `outcome` metadata if any. */
export interface ConfirmOutcome {
  readonly hold: number;
  readonly sentAt: number;
  readonly doneAt: number;
  readonly code: string;
  readonly reason: string;
  /** BACKEND_UNAVAILABLE's `outcome`: NOT_APPLIED (refused before Redis) or UNKNOWN (may have run). */
  readonly outcome: string;
}

export interface FailoverLoadReport {
  readonly kind: "report";
  readonly holds: readonly HeldHold[];
  readonly confirms: readonly ConfirmOutcome[];
  /** CPU this process used while confirming, µs per call. */
  readonly clientCpuUsPerCall: number;
}

export const orderOf = (holdId: string): string => `o-${holdId}`;
/** `Code.Unavailable` as gRPC spells it: UNAVAILABLE. */
const codeName = (code: Code): string => (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
const now = (): number => performance.timeOrigin + performance.now();

async function run(job: FailoverLoadJob): Promise<void> {
  const seats = createClient(SeatService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${job.port}` }));
  const options = { timeoutMs: job.deadlineMs };

  const holds: HeldHold[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.holds) {
        const n = next++;
        const userId = `u${n}`;
        const { hold } = await seats.holdSeats({ eventId: job.eventId, userId, selection: { case: "seats", value: { seatIds: explicitPair(n) } } }, options);
        if (!hold) throw new Error(`HoldSeats ${n}: no hold`);
        holds[n] = { holdId: hold.holdId, userId };
      }
    }),
  );
  process.send?.({ kind: "held" });

  const confirms: ConfirmOutcome[] = [];
  const pending = new Set<Promise<void>>();
  const start = now();
  process.send?.({ kind: "confirming", at: start });
  const cpu = process.cpuUsage();
  for (let n = 0; n < holds.length; n++) {
    const due = start + (n * 1000) / job.rate;
    if (due > start + job.seconds * 1000) break;
    const wait = due - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { holdId, userId } = holds[n] as HeldHold;
    const sentAt = now();
    const call = seats
      .confirmHold({ eventId: job.eventId, holdId, userId, orderId: orderOf(holdId) }, options)
      .then(
        () => confirms.push({ hold: n, sentAt, doneAt: now(), code: "OK", reason: "", outcome: "" }),
        (err: unknown) => {
          const error = ConnectError.from(err);
          const info = error.findDetails(ErrorInfoSchema)[0];
          confirms.push({ hold: n, sentAt, doneAt: now(), code: codeName(error.code), reason: info?.reason ?? "", outcome: info?.metadata["outcome"] ?? "" });
        },
      )
      .then(() => void pending.delete(call));
    pending.add(call);
  }
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  const report: FailoverLoadReport = {
    kind: "report",
    holds,
    confirms,
    clientCpuUsPerCall: confirms.length > 0 ? (used.user + used.system) / confirms.length : Number.NaN,
  };
  process.send?.(report, () => process.exit(0));
}

runChild("failover-client", run);
