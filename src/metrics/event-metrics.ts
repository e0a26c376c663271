import type { Registry } from "prom-client";
import { registerCollected, type Sample } from "./collected.js";
import type { EventSnapshot, EventStats } from "./event-stats.js";

/** Open streams of one kind of watch, per event, in this process. */
export interface StreamCounts {
  streams(eventId: string): number;
}

export interface EventMetricsSources {
  readonly stats: EventStats;
  readonly watches: Readonly<Record<"position" | "availability", StreamCounts>>;
}

type Figure = (snapshot: EventSnapshot) => number | undefined;

const GAUGES: ReadonlyArray<{ name: string; help: string; type?: "counter"; figure: Figure }> = [
  { name: "boxoffice_queue_waiting", help: "Users waiting in the event's line (pre-queue included).", figure: (s) => s.queue?.waiting },
  { name: "boxoffice_queue_pre_queue", help: "Of the waiting, users in the pre-queue (before or during the opening shuffle).", figure: (s) => s.queue?.preQueue },
  { name: "boxoffice_queue_active", help: "Admission sessions not yet ended or expired (what max_active caps).", figure: (s) => s.queue?.active },
  {
    name: "boxoffice_queue_admitted_total",
    help: "Users admitted since the event was created (Redis's count, shared by every instance).",
    type: "counter",
    figure: (s) => s.queue?.admittedTotal,
  },
  { name: "boxoffice_seats_capacity", help: "Seats and general-admission places of the event.", figure: (s) => s.seats?.capacity },
  { name: "boxoffice_seats_held", help: "Seats (and places) in live holds.", figure: (s) => s.seats?.held },
  { name: "boxoffice_seats_sold", help: "Seats (and places) sold.", figure: (s) => s.seats?.sold },
  {
    name: "boxoffice_seats_available",
    help: "Seats (and places) neither held nor sold.",
    figure: (s) => s.seats && s.seats.capacity - s.seats.held - s.seats.sold,
  },
  { name: "boxoffice_seat_holds", help: "Live holds (each of one or more seats).", figure: (s) => s.seats?.holds },
];

/**
 * The per-event series, computed at scrape time from `EventStats` (no Redis
 * call) and the watch hubs: only followed events have series, so an event
 * that ended drops out at the next refresh.
 */
export function registerEventMetrics(registry: Registry, { stats, watches }: EventMetricsSources): void {
  const perEvent = (figure: (id: string, snapshot: EventSnapshot) => Sample[]) => (): Sample[] =>
    [...stats.events].flatMap(([id, snapshot]) => figure(id, snapshot));
  for (const gauge of GAUGES) {
    registerCollected(registry, {
      name: gauge.name,
      help: gauge.help,
      type: gauge.type ?? "gauge",
      collect: perEvent((event, snapshot) => {
        const value = gauge.figure(snapshot);
        return value === undefined ? [] : [{ labels: { event }, value }];
      }),
    });
  }
  registerCollected(registry, {
    name: "boxoffice_watch_streams",
    help: "WatchPosition (kind=position) and WatchAvailability (kind=availability) streams open on this instance.",
    type: "gauge",
    collect: perEvent((event) =>
      (["position", "availability"] as const).map((kind) => ({ labels: { event, kind }, value: watches[kind].streams(event) })),
    ),
  });
  registerCollected(registry, {
    name: "boxoffice_feed_lag",
    help: "Outbox entries not yet delivered to the change feed group (replayed dead letters included).",
    type: "gauge",
    collect: perEvent((event, s) => s.feed.map((g) => ({ labels: { event, group: g.group }, value: g.lag }))),
  });
  registerCollected(registry, {
    name: "boxoffice_feed_pending",
    help: "Entries delivered to the change feed group and not yet acknowledged.",
    type: "gauge",
    collect: perEvent((event, s) => s.feed.map((g) => ({ labels: { event, group: g.group }, value: g.pending }))),
  });
  registerCollected(registry, {
    name: "boxoffice_metrics_events_followed",
    help: "Events with per-event series (at most METRICS_EVENTS_MAX).",
    type: "gauge",
    collect: () => [{ labels: {}, value: stats.events.size }],
  });
  registerCollected(registry, {
    name: "boxoffice_metrics_events_dropped_total",
    help: "Live events found with no room left under METRICS_EVENTS_MAX (counted each time one is found).",
    type: "counter",
    collect: () => [{ labels: {}, value: stats.dropped }],
  });
}
