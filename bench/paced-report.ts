import type { PacedResult } from "./paced.js";
import { table } from "./report.js";

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");

/** The open-loop Join scenario: the saturation row, then one row per level. */
export function pacedTable(result: PacedResult): string {
  const header = ["Join, new users, gRPC port", "target /s", "achieved /s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "p99 from send", "send lag p99 / max", "in flight max", "failed", "generator cores", "service cores", "Redis cores", "service µs/call", "Redis µs/call", "waiting for a core: service / generator", "other load"];
  const s = result.saturation;
  const rows = [
    [
      "closed loop (saturation)",
      "–",
      fixed(s.reqPerSec, 0),
      fixed(s.p50Ms, 2),
      fixed(s.p99Ms, 2),
      "–",
      "–",
      "–",
      "–",
      "–",
      String(Object.values(s.failures).reduce((n, c) => n + c, 0)),
      fixed(s.generatorCores, 2),
      "–",
      "–",
      "–",
      "–",
      "–",
      `${fixed(s.otherLoad * 100, 0)}%`,
    ],
    ...result.levels.map((l) => {
      const r = l.report;
      return [
        `open loop, ${Math.round(l.share * 100)}%`,
        fixed(r.targetRate, 0),
        fixed(r.achievedRate, 0),
        fixed(r.p50Ms, 2),
        fixed(r.p99Ms, 2),
        fixed(r.p999Ms, 2),
        fixed(r.maxMs, 1),
        fixed(r.serviceP99Ms, 2),
        `${fixed(r.sendLagP99Ms, 1)} / ${fixed(r.sendLagMaxMs, 1)}`,
        String(r.maxInFlight),
        String(Object.values(r.failures).reduce((n, c) => n + c, 0)),
        fixed(r.generatorCores, 2),
        fixed(l.serverCores, 2),
        fixed(l.redisCores, 2),
        fixed(l.serverCpuUs, 0),
        fixed(l.redisCpuUs, 0),
        `${fixed(l.serverRunQueue, 2)} / ${fixed(l.generatorRunQueue, 2)}`,
        `${fixed(l.otherLoad * 100, 0)}%`,
      ];
    }),
  ];
  return table(header, rows);
}

/** The target: p99 < 10 ms at half the saturated rate (the level nearest 50%). */
export function pacedTargets(result: PacedResult): string[] {
  const half = [...result.levels].sort((a, b) => Math.abs(a.share - 0.5) - Math.abs(b.share - 0.5))[0];
  if (!half) return [];
  const r = half.report;
  return [
    `Join p99 < 10 ms at ${Math.round(half.share * 100)}% of saturation (open loop, ${Math.round(r.targetRate)}/s): ` +
      `p99 ${r.p99Ms.toFixed(2)} ms, p99.9 ${r.p999Ms.toFixed(2)} ms${failed(r)} — ${r.p99Ms < 10 ? "met" : "NOT met"}`,
  ];
}

function failed(r: { readonly failures: Readonly<Record<string, number>> }): string {
  const n = Object.values(r.failures).reduce((sum, c) => sum + c, 0);
  return n > 0 ? `, ${n} calls failed (UNAVAILABLE)` : "";
}
