import { table } from "./report.js";
import { bottleneck, ceiling, type GroupResult } from "./scale-load.js";
import { CALL_LABELS, SCALE_CALLS, type ScaleRow } from "./scale-runs.js";

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");

/** Every run of a scale-out scenario: rate, ratio to the same layout's Health/Check, where the cores went and the limit. */
export function scaleTable(rows: readonly ScaleRow[], cores: number): string {
  const baseline = (layoutKey: string): number | undefined =>
    rows.find((r) => r.layoutKey === layoutKey && r.call === "baseline")?.result.reqPerSec;
  return table(
    ["Layout", "Call", "req/s", "× baseline", "per client", "p99 ms", "service cores", "Redis cores", "load gen cores", "service µs/call", "Redis µs/call", "ceiling req/s", "failed", "other load", "limit"],
    rows.map(({ layout, layoutKey, call, result: r }) => {
      const base = baseline(layoutKey);
      return [
        layout,
        CALL_LABELS[call],
        fixed(r.reqPerSec, 0),
        base ? `${(r.reqPerSec / base).toFixed(2)}×` : "–",
        r.perPart.map((x) => fixed(x, 0)).join(" / "),
        fixed(r.p99Ms, 1),
        r.serviceCores.map((c) => fixed(c, 2)).join(" + "),
        r.redis.map((n) => fixed(n.cores, 2)).join(" + "),
        fixed(r.clientCores, 2),
        fixed(perCall(r, r.serviceCores.reduce((a, b) => a + b, 0)), 0),
        fixed(perCall(r, r.redis.reduce((a, n) => a + n.cores, 0)), 0),
        fixed(ceiling(r), 0),
        Object.entries(r.failures).map(([status, n]) => `${n} × ${STATUS_NAMES[status] ?? status}`).join(", ") || "0",
        `${fixed(r.otherLoad * 100, 0)}%`,
        bottleneck(r, cores),
      ];
    }),
  );
}

const STATUS_NAMES: Readonly<Record<string, string>> = { "4": "DEADLINE_EXCEEDED", "14": "UNAVAILABLE" };

/** CPU µs per call from cores used at a rate. */
const perCall = (r: GroupResult, cores: number): number => (cores * 1e6) / r.reqPerSec;

/** Each call's rate on `to` over its rate on `from`, beside the same ratio for Health/Check. */
export function scalingTable(rows: readonly ScaleRow[], from: string, to: string): string {
  const result = (layoutKey: string, call: string): GroupResult | undefined => rows.find((r) => r.layoutKey === layoutKey && r.call === call)?.result;
  const rate = (layoutKey: string, call: string): number | undefined => result(layoutKey, call)?.reqPerSec;
  const top = (layoutKey: string, call: string): number => {
    const r = result(layoutKey, call);
    return r ? ceiling(r) : Number.NaN;
  };
  const fromLabel = rows.find((r) => r.layoutKey === from)?.layout ?? from;
  const toLabel = rows.find((r) => r.layoutKey === to)?.layout ?? to;
  return table(
    ["Call", `${fromLabel} req/s`, `${toLabel} req/s`, "factor", `${fromLabel} ceiling`, `${toLabel} ceiling`, "ceiling factor"],
    SCALE_CALLS.filter((call) => rate(from, call) !== undefined && rate(to, call) !== undefined).map((call) => {
      const a = rate(from, call) ?? NaN;
      const b = rate(to, call) ?? NaN;
      const [ca, cb] = [top(from, call), top(to, call)];
      return [CALL_LABELS[call], fixed(a, 0), fixed(b, 0), `${fixed(b / a, 2)}×`, fixed(ca, 0), fixed(cb, 0), `${fixed(cb / ca, 2)}×`];
    }),
  );
}

/** Per Redis node: FCALLs served per second and cores, for the runs of one layout (the per-shard view). */
export function nodeTable(rows: readonly ScaleRow[], layoutKey: string): string {
  const mine = rows.filter((r) => r.layoutKey === layoutKey && r.call !== "baseline");
  const names = mine[0]?.result.redis.map((n) => n.name) ?? [];
  return table(
    ["Redis node", ...mine.map((r) => `${CALL_LABELS[r.call]}: FCALL/s, cores`)],
    names.map((name, i) => [
      name,
      ...mine.map((r) => {
        const n = r.result.redis[i];
        return n ? `${fixed(n.fcallsPerSec, 0)}, ${fixed(n.cores, 2)}` : "–";
      }),
    ]),
  );
}
