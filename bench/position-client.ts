/**
 * GetPosition load over users spread along a long line: call n asks for user
 * `(n × stride) mod users` of those `JoinBodies` names `<prefix><padded n>`,
 * so consecutive calls land far apart in the line and every part of it is
 * read. Requests are pre-encoded in one slab; every answer's ticket must be
 * WAITING at exactly the user's place (`firstPosition + u`).
 *
 * Run as a child of the benchmark: reads its job from `BENCH_JOB` (JSON),
 * reports a `PositionLoadReport` over IPC and exits.
 */
import { GetPositionRequestSchema, TicketState } from "../gen/boxoffice/v1/queue_pb.js";
import { JoinBodies, peekTicket } from "./grpc-wire.js";
import { childMain, drive, type DriveJob, type DriveResult } from "./stream-driver.js";

export interface PositionLoadJob extends Omit<DriveJob, "path"> {
  readonly eventId: string;
  readonly userPrefix: string;
  /** Users `<prefix>0 … <prefix><users-1>` wait one behind the other from `firstPosition` on. */
  readonly users: number;
  readonly firstPosition: number;
  /** Calls to prepare for; the run stops early if they run out. */
  readonly maxRequests: number;
}

export interface PositionLoadReport extends DriveResult {
  readonly kind: "report";
  /** Successful answers whose ticket was not WAITING at the user's place. */
  readonly wrong: number;
  readonly stride: number;
}

const GET_POSITION = "/boxoffice.v1.QueueService/GetPosition";

async function run(job: PositionLoadJob): Promise<PositionLoadReport> {
  const bodies = new JoinBodies(GetPositionRequestSchema, job.eventId, job.userPrefix, job.users);
  const stride = spreadStride(job.users);
  const user = (n: number): number => (n * stride) % job.users;
  let wrong = 0;
  const check = (n: number, message: Buffer): void => {
    const { state, position } = peekTicket(message);
    if (state !== TicketState.WAITING || position !== job.firstPosition + user(n)) wrong++;
  };
  const requests = { count: job.maxRequests, body: (n: number) => bodies.body(user(n)) };
  const result = await drive({ ...job, path: GET_POSITION }, requests, check);
  return { kind: "report", ...result, wrong, stride };
}

/** A step near 0.618 × `users` that shares no factor with it, so n × step visits every user before repeating. */
function spreadStride(users: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let stride = Math.max(1, Math.floor(users * 0.618));
  while (gcd(stride, users) !== 1) stride++;
  return stride;
}

childMain("position-client", run);
