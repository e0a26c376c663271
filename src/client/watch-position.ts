import { equals } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Transport } from "@connectrpc/connect";
import { pause, reconnectDelayMs, type ReconnectBackoff } from "./backoff.js";
import { instancePicker, type InstanceChoice } from "./instances.js";
import { QueueService, TicketSchema, TicketState, type Ticket } from "../../gen/boxoffice/v1/queue_pb.js";

/** Where to (re)connect: one transport, several taken in turn after each failure, or a factory given the connection number (0, 1, …). */
export type TransportChoice = InstanceChoice<Transport>;


/** Whose ticket to watch, where, and how to behave when a server goes away. */
export interface WatchPositionOptions {
  readonly eventId: string;
  readonly userId: string;
  readonly transports: TransportChoice;
  /** Stops watching; the generator then throws a `ConnectError` with `Code.Canceled`. */
  readonly signal?: AbortSignal;
  /** Sent with every (re)connection, e.g. credentials. */
  readonly headers?: CallOptions["headers"];
  /** Codes after which to reconnect. Default `[Code.Unavailable]`: a server shutting down, or none reachable. */
  readonly retryCodes?: readonly Code[];
  readonly backoff?: ReconnectBackoff;
  /** Reconnections in a row without a message before the last error is thrown. Default unlimited. */
  readonly maxReconnects?: number;
  /** Told before each reconnection, for logs and metrics. */
  readonly onReconnect?: (event: { readonly error: ConnectError; readonly connection: number; readonly delayMs: number }) => void;
}

/**
 * A user's ticket, live, until it is final: yields the current ticket, then
 * every change, and returns after yielding ADMITTED (with the pass), LEFT or
 * EXPIRED. Streams last as long as the wait, and servers restart meanwhile:
 * when a stream fails with a retryable code (UNAVAILABLE: the server is
 * draining, or none answers) it reconnects, with exponential backoff and full
 * jitter, to the next transport. The place in line lives in Redis, not in the
 * connection, so the new stream resumes where the old one was; a ticket
 * equal to the last one yielded is not repeated.
 *
 * Any other error (NOT_IN_QUEUE, EVENT_NOT_FOUND, …) is thrown as it is:
 * read it with `reasonOf`. Breaking out of the loop cancels the stream.
 *
 * ```ts
 * for await (const ticket of watchPosition({ eventId, userId, transports: [a, b] })) {
 *   render(ticket.position, ticket.estimatedWaitSeconds);
 * }
 * ```
 */
export async function* watchPosition(options: WatchPositionOptions): AsyncGenerator<Ticket, void, undefined> {
  const { eventId, userId, signal, headers } = options;
  const transportFor = instancePicker(options.transports, "watchPosition");
  const retryCodes = options.retryCodes ?? [Code.Unavailable];
  const maxReconnects = options.maxReconnects ?? Number.POSITIVE_INFINITY;
  let last: Ticket | undefined;
  let failures = 0;
  for (let connection = 0; ; connection++) {
    const queue = createClient(QueueService, transportFor(connection));
    let error: ConnectError;
    try {
      for await (const { ticket } of queue.watchPosition({ eventId, userId }, { signal, headers })) {
        if (ticket === undefined) continue;
        failures = 0;
        if (last === undefined || !equals(TicketSchema, last, ticket)) {
          last = ticket;
          yield ticket;
        }
        if (isFinal(ticket.state)) return;
      }
      error = new ConnectError("the position stream ended before a final ticket", Code.Unavailable);
    } catch (err) {
      error = ConnectError.from(err);
      if (signal?.aborted === true || !retryCodes.includes(error.code)) throw error;
    }
    failures += 1;
    if (failures > maxReconnects) throw error;
    const delayMs = reconnectDelayMs(options.backoff, failures);
    options.onReconnect?.({ error, connection: connection + 1, delayMs });
    await pause(delayMs, signal, "watch");
  }
}

/** ADMITTED, LEFT and EXPIRED end a watch; WAITING (and anything newer than this package) does not. */
export function isFinal(state: TicketState): boolean {
  return state === TicketState.ADMITTED || state === TicketState.LEFT || state === TicketState.EXPIRED;
}
