import { join } from "node:path";
import { LoadSeatMapResponseSchema } from "../gen/boxoffice/v1/seats_pb.js";
import type { QueueStore } from "../src/queue/queue-store.js";
import { type BenchContext, PAUSED } from "./context.js";
import { callOk, until } from "./h2-unary.js";
import { failureText, type GroupResult, JOIN_PATH, type LoadPart, type RedisNode, runGroup } from "./scale-load.js";
import type { SeatLoadJob, SeatScenario } from "./seat-client.js";
import { PAIR, seatMapRequest, SEATS } from "./seat-plan.js";

const LOAD_SEAT_MAP = "/boxoffice.v1.SeatService/LoadSeatMap";
/** grpc-status UNAVAILABLE and DEADLINE_EXCEEDED. */
const OVERLOAD_STATUSES: ReadonlySet<string> = new Set(["14", "4"]);

/** The calls each layout is measured with, in this order (ConfirmHold confirms the holds of HoldSeats). */
export const SCALE_CALLS = ["baseline", "join", "hold", "confirm"] as const;
export type ScaleCall = (typeof SCALE_CALLS)[number];

export const CALL_LABELS: Readonly<Record<ScaleCall, string>> = {
  baseline: "Health/Check",
  join: "Join (new users)",
  hold: "HoldSeats (2 explicit seats)",
  confirm: "ConfirmHold",
};

/** One load generator: the gRPC port it calls and the event it joins and holds seats of. */
export interface LayoutClient {
  readonly port: number;
  readonly eventId: string;
  /** Set when several clients hold seats of one event: which share of the pairs is this one's. */
  readonly share?: { readonly index: number; readonly of: number };
}

/** Where the load goes in one configuration, and which processes to meter. */
export interface Layout {
  readonly key: string;
  readonly label: string;
  readonly clients: readonly LayoutClient[];
  readonly servicePids: readonly number[];
  readonly nodes: readonly RedisNode[];
  /** Configures the events' queues (PAUSED: joins accepted, nobody admitted). */
  readonly store: QueueStore;
}

export interface ScaleRow {
  readonly layout: string;
  readonly layoutKey: string;
  readonly call: ScaleCall;
  readonly result: GroupResult;
}

/**
 * Measures every call of `SCALE_CALLS` on one layout: a seat map loaded into
 * each of its events (100,000 seats), each queue configured, then each call
 * driven by all the layout's clients at once. One round: the holds a run
 * makes are the ones the next run confirms.
 */
export async function runLayout(ctx: BenchContext, layout: Layout): Promise<ScaleRow[]> {
  const { settings } = ctx;
  const events = [...new Set(layout.clients.map((c) => c.eventId))];
  const port = layout.clients[0]?.port;
  if (port === undefined) throw new Error(`${layout.label}: no clients`);
  process.stdout.write(`  ${layout.label}: ${events.length} seat map${events.length > 1 ? "s" : ""} of ${SEATS} seats … `);
  const started = performance.now();
  for (const eventId of events) {
    await layout.store.configure(eventId, { state: PAUSED });
    // A service just started on a cluster may still refuse calls (UNAVAILABLE, not attempted) until its Redis monitor has seen every primary.
    const body = seatMapRequest(eventId, PAIR);
    const { response } = await until(`LoadSeatMap of ${eventId}`, 60_000, () => callOk(port, LOAD_SEAT_MAP, body, LoadSeatMapResponseSchema, 120_000));
    if (response.seatMap?.seats !== SEATS) throw new Error(`LoadSeatMap loaded ${response.seatMap?.seats} seats, not ${SEATS}`);
  }
  process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const shape = {
    sessions: settings.connections,
    streamsPerSession: settings.streams,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
  };
  const holdsFile = (i: number): string => join(ctx.dir, `${layout.key}-${i}-holds.txt`);
  const seatJob = (client: LayoutClient, i: number, scenario: SeatScenario): SeatLoadJob => ({
    ...shape,
    scenario,
    eventId: client.eventId,
    port: client.port,
    userPrefix: `${layout.key}-${scenario}-${i}-`,
    maxRequests: 10_000 * (settings.seconds + settings.warmupSeconds),
    ...(client.share ? { share: client.share } : {}),
    ...(scenario === "explicit" ? { holdsOut: holdsFile(i) } : {}),
    ...(scenario === "confirm" ? { holdsIn: [holdsFile(i)] } : {}),
  });
  const parts = (call: ScaleCall): LoadPart[] =>
    layout.clients.map((client, i): LoadPart => {
      switch (call) {
        case "baseline":
          return { kind: "seat", job: seatJob(client, i, "baseline") };
        case "join":
          return {
            kind: "join",
            job: { ...shape, port: client.port, path: JOIN_PATH, eventId: client.eventId, userPrefix: `${layout.key}-${i}-`, maxUsers: 50_000 * (shape.seconds + shape.warmupSeconds) },
          };
        case "hold":
          return { kind: "seat", job: seatJob(client, i, "explicit") };
        case "confirm":
          // The holds run out (ConfirmHold is the faster call): measured from the first call, so no client ends before its window starts.
          return { kind: "seat", job: { ...seatJob(client, i, "confirm"), warmupSeconds: 0 } };
      }
    });

  const rows: ScaleRow[] = [];
  for (const call of SCALE_CALLS) {
    await ctx.quiet.wait();
    process.stdout.write(`    ${CALL_LABELS[call]} … `);
    const result = await runGroup(ctx.children, parts(call), layout.servicePids, layout.nodes);
    // An overloaded service may refuse calls (UNAVAILABLE once Redis answers after REDIS_COMMAND_TIMEOUT_MS): counted and shown. Anything else is a bug.
    if (Object.keys(result.failures).some((status) => !OVERLOAD_STATUSES.has(status))) {
      throw new Error(`${layout.label}, ${CALL_LABELS[call]}: ${failureText(result)}`);
    }
    const ranOut = result.exhausted ? " (a client used all its requests early)" : "";
    const failed = Object.keys(result.failures).length > 0 ? `, ${failureText(result)}` : "";
    process.stdout.write(`${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms.toFixed(1)} ms${ranOut}${failed}\n`);
    rows.push({ layout: layout.label, layoutKey: layout.key, call, result });
  }
  return rows;
}
