import type { CallRow } from "./million-calls.js";
import type { MillionResult } from "./million.js";
import { fanoutTable, table } from "./report.js";

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const ratio = (value: number, base: number | undefined): string => (base ? `${(value / base).toFixed(2)}×` : "–");
const n = (count: number): string => count.toLocaleString("en-US");
const pct = (share: number): string => `${fixed(share * 100, 0)}%`;

/** Cores a process kept busy during a run: its CPU per call times the calls per second. */
function cores(row: CallRow): { service: number; redis: number; client: number } {
  const at = (us: number): number => (us * row.reqPerSec) / 1e6;
  return { service: at(row.serverCpuUs), redis: at(row.redisCpuUs), client: at(row.clientCpuUs) };
}

/** The busiest of the three processes: one Node or Redis process cannot use more than one core. */
function bottleneck(row: CallRow): string {
  const c = cores(row);
  const [name, busiest] = (Object.entries(c) as Array<[string, number]>).sort((a, b) => b[1] - a[1])[0] ?? ["?", 0];
  const total = c.service + c.redis + c.client;
  return `${name}${total + row.otherLoad * 2 > 1.8 ? " (both cores busy)" : ""} ${fixed(busiest, 2)}`;
}

export function millionTables(r: MillionResult): string {
  const baseline = r.calls.find((c) => c.key === "million-baseline");
  const parts: string[] = [];
  const perUser = (f: MillionResult["large"]): number => (f.memoryAfter - f.memoryBefore) / (f.line.users + f.line.heads);
  parts.push(
    `Filled ${n(r.large.line.users)} waiting in ${fixed(r.large.seconds, 1)} s (${fixed(r.large.line.users / r.large.seconds, 0)} joins/s, store API, pipelined batches); ` +
      `${n(r.small.line.users)} in ${fixed(r.small.seconds, 1)} s. Load average ${fixed(r.loadAverage[0], 1)} at the start, ${fixed(r.loadAverage[1], 1)} at the end.`,
  );
  parts.push(
    "",
    table(
      ["Call", "waiting", "req/s", "range", "p50 ms", "p99 ms", "× baseline", "× h2load baseline", "service CPU µs/call", "Redis CPU µs/call", "client CPU µs/call", "cores: service / Redis / client", "busiest", "other load"],
      r.calls.map((row) => {
        const c = cores(row);
        return [
          row.label,
          n(row.waiting),
          fixed(row.reqPerSec, 0),
          row.minReqPerSec === row.maxReqPerSec ? "" : `${fixed(row.minReqPerSec, 0)}–${fixed(row.maxReqPerSec, 0)}`,
          fixed(row.p50Ms, 2),
          fixed(row.p99Ms, 2),
          ratio(row.reqPerSec, baseline?.reqPerSec),
          ratio(row.reqPerSec, r.h2loadBaseline.reqPerSec),
          fixed(row.serverCpuUs, 1),
          fixed(row.redisCpuUs, 1),
          fixed(row.clientCpuUs, 1),
          `${fixed(c.service, 2)} / ${fixed(c.redis, 2)} / ${fixed(c.client, 2)}`,
          bottleneck(row),
          pct(row.otherLoad),
        ];
      }),
    ),
    "",
    `h2load Health/Check on the same service: ${fixed(r.h2loadBaseline.reqPerSec, 0)} req/s, p50 ${fixed(r.h2loadBaseline.p50Ms, 2)} ms, p99 ${fixed(r.h2loadBaseline.p99Ms, 2)} ms, ` +
      `service CPU ${fixed(r.h2loadBaseline.serverCpuUs, 1)} µs/call, other load ${pct(r.h2loadBaseline.otherLoad)}.`,
  );
  parts.push("", fanoutTable(r.fanout));
  const baseCpu = baseline?.serverCpuUs;
  parts.push(
    "",
    ...r.fanout.map(
      (f) => `- ${f.label}: service CPU ${fixed(f.cpuPerMessageUs, 1)} µs per position message = ${ratio(f.cpuPerMessageUs, baseCpu)} the service CPU of one baseline call`,
    ),
  );
  const m = r.memory;
  const users = r.large.line.users + r.large.line.heads;
  const per = (bytes: number): string => `${fixed(bytes / users, 1)}`;
  parts.push(
    "",
    table(
      [`Redis memory, ${n(users)} waiting`, "B/user"],
      [
        ["`q:waiting` (sorted set)", per(m.waitingBytes)],
        ["tickets (4,096 hashes)", per(m.ticketBytes)],
        ["outbox (`log`)", per(m.logBytes)],
        ["config, stats, active, bucket", per(m.otherBytes)],
        ["**used_memory delta**", `**${fixed(perUser(r.large), 1)}**`],
        [`used_memory delta, ${n(r.small.line.users + r.small.line.heads)} waiting`, fixed(perUser(r.small), 1)],
      ],
    ),
    "",
    `Ticket buckets by encoding: ${Object.entries(m.bucketEncodings).map(([e, c]) => `${c} ${e}`).join(", ")}; fullest ${m.fullestBucket} entries ` +
      `(hash-max-listpack-entries ${r.listpackEntries}).`,
  );
  const s = r.sweep;
  const latency = s.latency.map((e) => `${e.event} ${e.maxMs} ms (${e.samples} s with a sample)`).join(", ") || "no event above 1 ms";
  const others = s.slowOthers.slice(0, 5).map((o) => `${o.command} ${fixed(o.us / 1000, 1)} ms`).join(", ");
  parts.push(
    "",
    table(
      ["Idle sweep", "waiting", "expired", "until empty", "users/s", "× baseline req/s", "FCALLs", "µs per FCALL", "Redis CPU", "Redis CPU µs/user", "service CPU", "other load"],
      [
        [
          "service's sweeper, idle timeout lowered to 1 s",
          n(s.waiting),
          n(s.expired),
          `${fixed(s.seconds, 1)} s`,
          fixed(s.expired / s.seconds, 0),
          ratio(s.expired / s.seconds, baseline?.reqPerSec),
          n(s.fcalls),
          fixed(s.fcallUsec / Math.max(1, s.fcalls), 0),
          `${fixed(s.redisCpuMs / 1000, 1)} s (${fixed(s.redisCpuMs / 1000 / s.seconds, 2)} cores)`,
          fixed((s.redisCpuMs * 1000) / Math.max(1, s.expired), 1),
          `${fixed(s.serviceCpuMs / 1000, 1)} s`,
          pct(s.otherLoad),
        ],
      ],
    ),
    "",
    `Latency monitor (threshold 1 ms), worst per event: ${latency}.`,
    `SLOWLOG ≥ 1 ms: ${s.slowSweeps.count} sweep steps (median ${fixed(s.slowSweeps.medianUs / 1000, 1)} ms, worst ${fixed(s.slowSweeps.maxUs / 1000, 1)} ms); ` +
      `${s.slowOthers.length} other commands${others ? ` (worst: ${others})` : ""}.`,
  );
  return parts.join("\n");
}

/** The scenario's targets: Join and GetPosition with the large line within 20% of the small one. */
export function millionTargets(r: MillionResult): string[] {
  const find = (key: string): CallRow | undefined => r.calls.find((c) => c.key === key);
  const lines: string[] = [];
  for (const call of ["join", "position"]) {
    const small = find(`${call}-small`);
    const large = find(`${call}-large`);
    if (!small || !large) continue;
    const rate = large.reqPerSec / small.reqPerSec;
    const p50 = large.p50Ms / small.p50Ms;
    const p99 = large.p99Ms / small.p99Ms;
    const met = rate >= 0.8 && p50 <= 1.2 && p99 <= 1.2;
    lines.push(
      `${call === "join" ? "Join" : "GetPosition"} with ${n(large.waiting)} waiting within 20% of ${n(small.waiting)}: ` +
        `${fixed(rate, 2)}× the req/s, ${fixed(p50, 2)}× the p50, ${fixed(p99, 2)}× the p99 — ${met ? "met" : "NOT met"}`,
    );
  }
  const worst = r.sweep.slowSweeps.maxUs / 1000;
  lines.push(`Idle sweep of ${n(r.sweep.waiting)}: ${fixed(r.sweep.seconds, 1)} s; longest sweep step ${worst > 0 ? `${fixed(worst, 1)} ms` : "under 1 ms"}`);
  return lines;
}
