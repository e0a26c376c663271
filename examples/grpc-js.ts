/**
 * Boxoffice from a plain @grpc/grpc-js program, through the package's
 * `grpc-js` entry: typed requests and responses, a position stream, and an
 * error's `ErrorInfo` decoded from `grpc-status-details-bin`.
 *
 *     npx tsx examples/grpc-js.ts 127.0.0.1:8080
 *
 * Dependencies: @boxoffice/client and @grpc/grpc-js.
 */
import * as grpc from "@grpc/grpc-js";
import { QueueService, QueueState, Reason, TicketState } from "@boxoffice/client";
import { createGrpcJsClient, errorDetailsOf, reasonOf } from "@boxoffice/client/grpc-js";
import { pathToFileURL } from "node:url";

export interface GrpcJsExampleResult {
  readonly eventId: string;
  readonly joinedAt: number;
  /** Ticket states the stream delivered, in order. */
  readonly states: readonly string[];
  readonly missingEvent: { readonly code: number; readonly reason: string; readonly domainReason: boolean };
}

/** `address` is `host:port` of the gRPC port. */
export async function main(address: string): Promise<GrpcJsExampleResult> {
  // Retries of the calls that are safe to repeat (Join, Leave, …) are on by default.
  const queue = createGrpcJsClient(QueueService, address, grpc.credentials.createInsecure());
  try {
    const eventId = `example-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    // Paused: joins are accepted and nobody is admitted, so carol waits until she leaves.
    await queue.configureQueue({ eventId, state: QueueState.PAUSED });
    const { ticket } = await queue.join({ eventId, userId: "carol" }, { deadline: Date.now() + 5_000 });
    const states: string[] = [];
    for await (const { ticket: update } of queue.watchPosition({ eventId, userId: "carol" })) {
      states.push(TicketState[update?.state ?? TicketState.UNSPECIFIED]);
      // Leaving ends the stream with a final LEFT ticket.
      if (states.length === 1) await queue.leave({ eventId, userId: "carol" });
    }

    // Errors are grpc-js ServiceErrors; the reason travels in grpc-status-details-bin.
    const err = await queue.join({ eventId: `${eventId}-missing`, userId: "carol" }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    const details = errorDetailsOf(err);
    return {
      eventId,
      joinedAt: Number(ticket?.joinedAt?.seconds ?? 0n),
      states,
      missingEvent: { code: details.code, reason: details.reasonName, domainReason: reasonOf(err) === Reason.EVENT_NOT_FOUND },
    };
  } finally {
    queue.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [address = "127.0.0.1:8080"] = process.argv.slice(2);
  main(address).then(
    (result) => console.log(JSON.stringify(result)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
