import type { ResultRow } from "./context.js";
import type { FanoutResult } from "./fanout.js";
import type { FreshRow } from "./fresh.js";
import { percentile } from "./grpc-wire.js";
import type { OnSaleResult } from "./onsale.js";
import type { SeatRow } from "./seats.js";

/** A Markdown table with columns padded so it also reads well in a terminal. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const ratio = (value: number, base: number | undefined): string => (base ? `${(value / base).toFixed(2)}×` : "–");

/** The h2load rows and the fresh-join rows, with ratios to the peer and to the baseline. */
export function unaryTable(rows: readonly ResultRow[], fresh: readonly FreshRow[]): string {
  const rate = (key: string): number | undefined => [...rows, ...fresh].find((r) => r.key === key)?.reqPerSec;
  const baseline = rate("baseline");
  const header = ["Call", "req/s", "range", "p50 ms", "p99 ms", "× peer", "× baseline", "server CPU µs/call", "Redis CPU µs/call", "other load", "verified"];
  const cells = (row: ResultRow): string[] => [
    row.label,
    fixed(row.reqPerSec, 0),
    row.minReqPerSec === row.maxReqPerSec ? "" : `${fixed(row.minReqPerSec, 0)}–${fixed(row.maxReqPerSec, 0)}`,
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    row.paced ? "–" : ratio(row.reqPerSec, rate(row.peerKey ?? "peer")),
    row.paced ? "–" : ratio(row.reqPerSec, baseline),
    fixed(row.serverCpuUs, 1),
    fixed(row.redisCpuUs, 1),
    `${fixed(row.otherLoad * 100, 0)}%`,
    row.check,
  ];
  const parts = [table(header, rows.map(cells))];
  if (fresh.length > 0) {
    parts.push(
      "",
      table(
        [...header, "client CPU µs/call"],
        fresh.map((row) => [...cells(row), fixed(row.clientCpuUs, 1)]),
      ),
    );
  }
  return parts.join("\n");
}

export function fanoutTable(results: readonly FanoutResult[]): string {
  const header = ["Scenario", "streams / conns", "open all", "Leave RPC", "first update", "all updated: median", "max", "service CPU µs/msg", "RSS/stream", "other load"];
  return table(
    header,
    results.map((r) => {
      const last = Float64Array.from(r.rounds.map((x) => x.lastMs)).sort();
      const first = Float64Array.from(r.rounds.map((x) => x.firstMs)).sort();
      const leave = Float64Array.from(r.rounds.map((x) => x.leaveMs)).sort();
      return [
        r.label,
        `${r.watchers} / ${r.sessions}`,
        `${fixed(r.setupMs / 1000, 1)} s`,
        `${fixed(percentile(leave, 50), 1)} ms`,
        `${fixed(percentile(first, 50), 0)} ms`,
        `${fixed(percentile(last, 50), 0)} ms`,
        `${fixed(percentile(last, 100), 0)} ms`,
        fixed(r.cpuPerMessageUs, 1),
        `${fixed(r.rssPerStreamKiB, 1)} KiB`,
        `${fixed(r.otherLoad * 100, 0)}%`,
      ];
    }),
  );
}

/**
 * The WatchPosition cadence, off and on, over the same paced rounds: what a
 * moving line costs in messages and service CPU, and how long after the
 * round's last Leave the last watcher (a held-back far one, with the
 * cadence on) heard its place.
 */
export function cadenceTable(results: readonly FanoutResult[]): string {
  const header = ["Cadence", "streams", "first watched place", "leaves per round", "messages / Leave", "service CPU / Leave", "all told after last Leave: median", "range", "other load"];
  return table(
    header,
    results.map((r) => {
      const after = Float64Array.from(r.rounds.map((x) => x.afterLastLeaveMs)).sort();
      return [
        r.cadence,
        `${r.watchers}`,
        `${r.rounds.length * r.leavesPerRound + r.ahead + 1}`,
        `${r.leavesPerRound}, ${r.leaveGapMs} ms apart`,
        fixed(r.messagesPerLeave, 0),
        `${fixed(r.cpuPerLeaveMs, 1)} ms`,
        `${fixed(percentile(after, 50), 0)} ms`,
        `${fixed(percentile(after, 0), 0)}–${fixed(percentile(after, 100), 0)} ms`,
        `${fixed(r.otherLoad * 100, 0)}%`,
      ];
    }),
  );
}

/** The spec's targets, each with its verdict. */
export function targets(rows: readonly ResultRow[], fanout: readonly FanoutResult[]): string[] {
  const find = (key: string): ResultRow | undefined => rows.find((r) => r.key === key);
  const lines: string[] = [];
  const peer = find("peer");
  const join = find("join-grpc");
  if (peer && join) {
    const r = join.reqPerSec / peer.reqPerSec;
    lines.push(`Join on the gRPC port ≥ 0.8× the peer: ${r.toFixed(2)}× — ${r >= 0.8 ? "met" : "NOT met"}`);
  }
  const paced = find("join-grpc-paced");
  if (paced) {
    const peerPaced = find("peer-paced");
    const reference = peerPaced ? ` (peer at the same rate: ${peerPaced.p99Ms.toFixed(2)} ms)` : "";
    lines.push(
      `Join p99 < 10 ms at 80% of saturation: ${paced.p99Ms.toFixed(2)} ms${reference} — ${paced.p99Ms < 10 ? "met" : "NOT met"}`,
    );
  }
  for (const f of fanout) {
    const worst = Math.max(...f.rounds.map((x) => x.lastMs));
    lines.push(`${f.watchers} watchers updated < 200 ms (${f.label}): worst ${worst.toFixed(0)} ms — ${worst < 200 ? "met" : "NOT met"}`);
  }
  return lines;
}

/** The seat scenario's rows: ratios to the Health/Check of the same client, and to h2load's when it ran. */
export function seatTable(rows: readonly SeatRow[], h2loadBaseline: ResultRow | undefined): string {
  const baseline = rows.find((r) => r.key === "seats-baseline")?.reqPerSec;
  const header = ["Call (seat scenario)", "req/s", "range", "p50 ms", "p99 ms", "× baseline", "× h2load baseline", "server CPU µs/call", "Redis CPU µs/call", "client CPU µs/call", "other load", "verified"];
  return table(
    header,
    rows.map((row) => [
      row.label,
      fixed(row.reqPerSec, 0),
      row.minReqPerSec === row.maxReqPerSec ? "" : `${fixed(row.minReqPerSec, 0)}–${fixed(row.maxReqPerSec, 0)}`,
      fixed(row.p50Ms, 2),
      fixed(row.p99Ms, 2),
      ratio(row.reqPerSec, baseline),
      ratio(row.reqPerSec, h2loadBaseline?.reqPerSec),
      fixed(row.serverCpuUs, 1),
      fixed(row.redisCpuUs, 1),
      fixed(row.clientCpuUs, 1),
      `${fixed(row.otherLoad * 100, 0)}%`,
      row.check,
    ]),
  );
}

/** The seat targets: explicit holds against the baseline, best available against explicit holds. */
export function seatTargets(rows: readonly SeatRow[], h2loadBaseline: ResultRow | undefined): string[] {
  const rate = (key: string): number | undefined => rows.find((r) => r.key === key)?.reqPerSec;
  const baseline = rate("seats-baseline");
  const explicit = rate("seats-explicit");
  const best = rate("seats-best");
  const lines: string[] = [];
  if (baseline && explicit) {
    const r = explicit / baseline;
    const h2load = h2loadBaseline ? `; ${(explicit / h2loadBaseline.reqPerSec).toFixed(2)}× h2load's Health/Check` : "";
    lines.push(
      `HoldSeats (2 explicit seats) ≥ 0.5× the baseline: ${r.toFixed(2)}× Health/Check through the same client${h2load} — ${r >= 0.5 ? "met" : "NOT met"}`,
    );
  }
  if (explicit && best) {
    const r = best / explicit;
    lines.push(`HoldSeats best available within 2× of explicit holds (≥ 0.5×): ${r.toFixed(2)}× — ${r >= 0.5 ? "met" : "NOT met"}`);
  }
  return lines;
}

/** The on-sale scenario, one row per variant. */
export function onsaleTable(results: readonly OnSaleResult[]): string {
  const header = ["On-sale", "conns", "joins/s", "join p50 / p99", "opening → 1st pass / placed p50, all", "admitted/s", "pass delivery p50 / p99 / max", "≤ 1 tick", "msgs/user", "duration", "service CPU", "admitting: cores avg / peak", "Redis CPU", "client CPU", "service RSS", "RSS/stream: open / peak", "other load"];
  return table(
    header,
    results.map((r) => {
      const x = r.report;
      return [
        `${r.variant}: ${r.users} users, admit ${r.rate}/s (burst ${r.burst})`,
        String(x.sessions),
        fixed(x.joined / x.joinSeconds, 0),
        `${fixed(x.joinP50Ms, 0)} / ${fixed(x.joinP99Ms, 0)} ms`,
        opening(r),
        fixed(r.admittedPerSec, 0),
        `${fixed(x.deliveryP50Ms, 0)} / ${fixed(x.deliveryP99Ms, 0)} / ${fixed(x.deliveryMaxMs, 0)} ms`,
        `${fixed(withinTick(r), 1)}%`,
        fixed(x.messages / r.users, 1),
        `${fixed(x.seconds, 1)} s`,
        `${fixed(r.serverCpuMs / 1000, 1)} s`,
        `${fixed(r.admitCores, 2)} / ${fixed(r.admitPeakCores, 2)}`,
        `${fixed(r.redisCpuMs / 1000, 1)} s`,
        `${fixed(x.clientCpuMs / 1000, 1)} s`,
        `${fixed(r.rssBeforeMiB, 0)} → ${fixed(r.rssPeakMiB, 0)} MiB`,
        perStream(r),
        `${fixed(r.otherLoad * 100, 0)}%`,
      ];
    }),
  );
}

/** The on-sale targets: the pass reaches its stream soon after admission; the opening's memory peak stays near the open streams'. */
export function onsaleTargets(results: readonly OnSaleResult[]): string[] {
  return results.flatMap((r) => {
    const p99 = r.report.deliveryP99Ms;
    const tick = `${fixed(withinTick(r), 1)}% within one admitter tick (${r.admitIntervalMs} ms)`;
    const lines = [`Pass delivery p99 < 1 s after admission (${r.variant}, ${r.users} users): ${fixed(p99, 0)} ms; ${tick} — ${p99 < 1000 ? "met" : "NOT met"}`];
    const rss = rssPerStreamKiB(r);
    if (rss !== undefined) {
      const ratio = rss.peak / rss.open;
      lines.push(
        `Service RSS per stream at the opening's peak ≤ 1.5× with every stream open (${r.variant}, ${r.users} users): ` +
          `${fixed(rss.peak, 1)} KiB against ${fixed(rss.open, 1)} KiB, ${fixed(ratio, 2)}× — ${ratio <= 1.5 ? "met" : "NOT met"}`,
      );
    }
    return lines;
  });
}

/** The service's RSS growth over the run per user (each has one stream): with every stream open, and at the peak; KiB. */
function rssPerStreamKiB(r: OnSaleResult): { open: number; peak: number } | undefined {
  if (r.rssQueuedMiB === undefined) return undefined;
  return { open: ((r.rssQueuedMiB - r.rssBeforeMiB) * 1024) / r.users, peak: ((r.rssPeakMiB - r.rssBeforeMiB) * 1024) / r.users };
}

function perStream(r: OnSaleResult): string {
  const rss = rssPerStreamKiB(r);
  return rss === undefined ? "–" : `${fixed(rss.open, 1)} / ${fixed(rss.peak, 1)} KiB`;
}

/** Share of passes delivered within one admitter tick of their admission, %. */
function withinTick(r: OnSaleResult): number {
  return (100 * r.report.withinTick) / Math.max(1, r.report.admitted);
}

/** From opening the sale to the first pass, and until the median and the last watcher knew their place. */
function opening(r: OnSaleResult): string {
  const { openingToFirstPassMs: first, openingToPlacedP50Ms: p50, openingToPlacedLastMs: last } = r;
  if (first === undefined || p50 === undefined || last === undefined) return "–";
  return `${fixed(first / 1000, 1)} s / ${fixed(p50 / 1000, 1)}, ${fixed(last / 1000, 1)} s`;
}
