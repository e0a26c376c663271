import type { FeedResults } from "./feed.js";
import { table } from "./report.js";

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const verdict = (problems: readonly string[]): string => (problems.length === 0 ? "ok" : `FAIL: ${problems.join("; ")}`);

/** The drain table (with the baseline it is compared with) and the live table. */
export function feedTables(results: FeedResults): string {
  const base = results.baseline.reqPerSec;
  const drain = table(
    ["Change feed: drain", "events/s", "× baseline", "batches", "service CPU µs/event", "Redis CPU µs/event", "FCALL µs/event", "FCALLs", "client CPU µs/event", "cores: service / Redis / client", "other load", "verified"],
    [
      [results.baseline.label, fixed(base, 0), "1.00×", "–", fixed(results.baseline.serverCpuUs, 1), fixed(results.baseline.redisCpuUs, 1), "–", "–", "–", "–", `${fixed(results.baseline.otherLoad * 100, 0)}%`, results.baseline.check],
      ...results.drains.map((row) => [
        row.label,
        fixed(row.eventsPerSec, 0),
        `${fixed(row.eventsPerSec / base, 2)}×`,
        String(row.batches),
        fixed(row.serviceCpuUs, 1),
        fixed(row.redisCpuUs, 2),
        fixed(row.fcallUs, 2),
        String(row.fcalls),
        fixed(row.clientCpuUs, 1),
        `${fixed(row.serviceCores, 2)} / ${fixed(row.redisCores, 2)} / ${fixed(row.clientCores, 2)}`,
        `${fixed(row.otherLoad * 100, 0)}%`,
        verdict(row.problems),
      ]),
    ],
  );
  const live = table(
    ["Change feed: live (change time → arrival)", "changes", "Joins/s", "p50 ms", "p99 ms", "max ms", "service CPU µs/change", "other load", "verified"],
    results.live.map((row) => [
      row.label,
      String(row.joins),
      fixed(row.joinsPerSec, 0),
      fixed(row.p50Ms, 0),
      fixed(row.p99Ms, 0),
      fixed(row.maxMs, 0),
      fixed(row.serviceCpuUs, 1),
      `${fixed(row.otherLoad * 100, 0)}%`,
      verdict(row.problems),
    ]),
  );
  return `${drain}\n\n${live}`;
}

/** Target lines: drain rate per service process, live p99, Redis work per entry at both backlog sizes. */
export function feedTargets(results: FeedResults): string[] {
  const lines: string[] = [];
  const big = results.drains.at(-1);
  const small = results.drains[0];
  if (big) {
    lines.push(`Change feed drain ≥ 20,000 events/s per service process: ${fixed(big.eventsPerSec, 0)}/s — ${big.eventsPerSec >= 20_000 ? "met" : "not met"}`);
  }
  for (const row of results.live) {
    lines.push(`Change feed live p99 < 100 ms (${row.label}): ${fixed(row.p99Ms, 0)} ms — ${row.p99Ms < 100 ? "met" : "not met"}`);
  }
  if (small && big && small !== big) {
    lines.push(
      `Redis work per delivered entry, ${small.entries} vs ${big.entries} backlog: ` +
        `FCALL ${fixed(small.fcallUs, 2)} vs ${fixed(big.fcallUs, 2)} µs, Redis CPU ${fixed(small.redisCpuUs, 2)} vs ${fixed(big.redisCpuUs, 2)} µs`,
    );
  }
  const failed = [...results.drains, ...results.live].filter((row) => row.problems.length > 0);
  if (failed.length > 0) lines.push(`FAIL: ${failed.map((row) => `${row.label}: ${row.problems.join("; ")}`).join(" | ")}`);
  return lines;
}

/** True when every check of the scenario passed. */
export function feedPassed(results: FeedResults): boolean {
  return [...results.drains, ...results.live].every((row) => row.problems.length === 0);
}
