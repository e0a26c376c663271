/**
 * Fresh-join load: every request joins a different user, which h2load cannot
 * do (it sends one body file for every request). Requests are pre-encoded
 * into one slab, then `stream-driver.ts` keeps a fixed number of streams in
 * flight on each of a few sessions and checks each response's `grpc-status`.
 *
 * Run as a child of the benchmark: reads its job from `BENCH_JOB` (JSON),
 * reports a `JoinLoadReport` over IPC and exits.
 */
import { JoinRequestSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { JoinBodies } from "./grpc-wire.js";
import { childMain, drive, type DriveJob } from "./stream-driver.js";

export interface JoinLoadJob extends DriveJob {
  readonly eventId: string;
  readonly userPrefix: string;
  /** Pre-encoded users; the run stops early if they run out. */
  readonly maxUsers: number;
}

export interface JoinLoadReport {
  readonly kind: "report";
  readonly reqPerSec: number;
  /** Calls completed in the measured window, and how many of them returned grpc-status 0 with a message. */
  readonly done: number;
  readonly ok: number;
  /** Successful calls over the whole run, warm-up included: what joined_total must have grown by. */
  readonly okTotal: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU the client used per measured call, µs: shows whether the client itself was the limit. */
  readonly clientCpuUsPerCall: number;
  readonly exhausted: boolean;
}

async function run(job: JoinLoadJob): Promise<JoinLoadReport> {
  const bodies = new JoinBodies(JoinRequestSchema, job.eventId, job.userPrefix, job.maxUsers);
  const result = await drive(job, { count: bodies.count, body: (n) => bodies.body(n) });
  return {
    kind: "report",
    reqPerSec: result.reqPerSec,
    done: result.done,
    ok: result.ok,
    okTotal: result.okTotal,
    failures: result.failures,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    clientCpuUsPerCall: result.clientCpuUsPerCall,
    exhausted: result.exhausted,
  };
}

childMain("join-client", run);
