/**
 * A backend's whole path through Boxoffice, with @boxoffice/client over the
 * gRPC port: set up a sale, join its queue, watch the place until admitted,
 * check the admission pass offline, hold seats with it, confirm them, and
 * read a structured error, then follow the sale on the change feed.
 *
 *     PASS_KEYS='k1:<the service's secret>' npx tsx examples/backend.ts http://127.0.0.1:8080
 *
 * Dependencies: @boxoffice/client and @connectrpc/connect-node.
 */
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  Reason,
  SubscribeStart,
  TicketState,
  callWithRetries,
  consume,
  createBoxofficeClient,
  errorDetailsOf,
  holdSeats,
  reasonOf,
  watchPosition,
  type Ticket,
} from "@boxoffice/client";
import { parsePassKeys, verifyPass } from "@boxoffice/client/pass";
import { pathToFileURL } from "node:url";

export interface ExampleResult {
  readonly eventId: string;
  /** Every place the user was told while waiting, then the final state. */
  readonly positions: readonly number[];
  readonly finalState: TicketState;
  /** What verifyPass said about the admission pass. */
  readonly passCheck: string;
  readonly heldSeats: readonly string[];
  readonly orderId: string;
  /** What a second user got when asking for a seat already sold. */
  readonly refusal: { readonly reason: string; readonly seatIds: string };
  /** The change types the billing worker processed, in order. */
  readonly feedSeen: readonly string[];
}

/**
 * `baseUrl` is the gRPC port (or the Connect port: `createGrpcTransport`
 * speaks gRPC, which both serve). `passKeys` is the service's `PASS_KEYS`
 * value: `kid:secret[,kid:secret…]`.
 */
export async function main(baseUrl: string, passKeys: string, log: (line: string) => void = console.log): Promise<ExampleResult> {
  const boxoffice = createBoxofficeClient(createGrpcTransport({ baseUrl }));
  const eventId = `example-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const userId = "alice";

  // 1. Operator side: a queue letting people through fast, and a small venue that requires a pass.
  await boxoffice.queue.configureQueue({ eventId, admitRatePerSec: 100 });
  await boxoffice.seats.loadSeatMap({
    eventId,
    requirePass: true,
    sections: [{ sectionId: "A", rows: [{ rowId: "1", seatIds: ["A1-1", "A1-2", "A1-3"] }] }],
  });

  // 2. Join (idempotent: joining again returns the same place) and watch until the line lets us in.
  const watchUntilAdmitted = async (user: string) => {
    await boxoffice.queue.join({ eventId, userId: user });
    const seen: number[] = [];
    let last: Ticket | undefined;
    for await (const ticket of watchPosition({ eventId, userId: user, transports: createGrpcTransport({ baseUrl }) })) {
      log(`${user}: ${TicketState[ticket.state]} position=${ticket.position} wait=${ticket.estimatedWaitSeconds ?? "?"}s`);
      if (ticket.state === TicketState.WAITING) seen.push(ticket.position);
      last = ticket;
    }
    if (last?.state !== TicketState.ADMITTED || last.pass === undefined) {
      throw new Error(`${user} was not admitted: ${TicketState[last?.state ?? TicketState.UNSPECIFIED]}`);
    }
    return { positions: seen, finalState: last.state, pass: last.pass.token };
  };
  const { positions, finalState, pass } = await watchUntilAdmitted(userId);

  // 3. Any backend can check the pass offline with the shared keys: no call to Boxoffice.
  const keys = parsePassKeys(passKeys);
  if ("problems" in keys) throw new Error(`PASS_KEYS: ${keys.problems.join("; ")}`);
  const check = verifyPass(pass, keys.keys, { eventId, userId });
  log(`pass: ${check.kind}`);

  // 4. Hold two adjacent seats with the pass, then confirm. Both are retried when their outcome
  //    is unknown (UNAVAILABLE, DEADLINE_EXCEEDED): the hold under one request id that
  //    `holdSeats` fills in, the confirmation by its order id.
  const { hold } = await holdSeats(
    boxoffice.seats,
    { eventId, userId, pass, selection: { case: "bestAvailable", value: { sectionId: "A", quantity: 2 } } },
    { attemptTimeoutMs: 5_000 },
  );
  if (hold === undefined) throw new Error("no hold in the answer");
  const orderId = `order-${eventId}`;
  await callWithRetries((options) => boxoffice.seats.confirmHold({ eventId, userId, holdId: hold.holdId, orderId }, options), { attemptTimeoutMs: 5_000 });
  log(`sold ${hold.seatIds.join(", ")} under ${orderId}`);

  // 5. A structured error: bob, admitted too, asks for the seats alice bought. Branch on the
  //    reason and read its metadata; never parse the message.
  const bob = await watchUntilAdmitted("bob");
  let refusal = { reason: "", seatIds: "" };
  try {
    await boxoffice.seats.holdSeats({ eventId, userId: "bob", pass: bob.pass, selection: { case: "seats", value: { seatIds: hold.seatIds } } });
  } catch (err) {
    if (reasonOf(err) !== Reason.SEAT_UNAVAILABLE) throw err;
    const { reasonName, metadata } = errorDetailsOf(err);
    refusal = { reason: reasonName, seatIds: metadata["seat_ids"] ?? "" };
    log(`bob's hold refused: ${reasonName}, taken: ${refusal.seatIds}`);
  }

  // 6. The change feed: a billing worker follows the event's admissions and sales, at least
  //    once. Its group starts at the beginning, so it sees what happened above; it stops once
  //    it has processed alice's sale (a real worker runs until shutdown).
  const feedSeen: string[] = [];
  const stop = new AbortController();
  await consume({
    client: boxoffice.feed,
    eventId,
    group: "billing",
    consumer: "worker-1",
    types: ["queue.admitted", "seat.confirmed"],
    start: SubscribeStart.BEGINNING,
    signal: stop.signal,
    handler: (change) => {
      // Idempotent by change.id in a real worker: a change may arrive more than once.
      feedSeen.push(change.type);
      if (change.payload.case === "seatConfirmed" && change.payload.value.orderId === orderId) {
        log(`feed: ${change.type} ${change.payload.value.orderId} (${change.payload.value.seats.length} seats)`);
        stop.abort();
      }
    },
  });

  return { eventId, positions, finalState, passCheck: check.kind, heldSeats: hold.seatIds, orderId, refusal, feedSeen };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [baseUrl = "http://127.0.0.1:8080"] = process.argv.slice(2);
  main(baseUrl, process.env["PASS_KEYS"] ?? "").then(
    (result) => console.log(JSON.stringify(result)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
