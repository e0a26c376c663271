import { table } from "./report.js";
import { bottleneck } from "./scale-load.js";
import { CALL_LABELS, SCALE_CALLS, type ScaleRow } from "./scale-runs.js";

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");

/** Every run of a scale-out scenario: rate, ratio to the same layout's Health/Check, where the cores went and the limit. */
export function scaleTable(rows: readonly ScaleRow[], cores: number): string {
  const baseline = (layoutKey: string): number | undefined =>
    rows.find((r) => r.layoutKey === layoutKey && r.call === "baseline")?.result.reqPerSec;
  return table(
    ["Layout", "Call", "req/s", "× baseline", "per client", "p99 ms", "service cores", "Redis cores", "load gen cores", "other load", "limit"],
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
        `${fixed(r.otherLoad * 100, 0)}%`,
        bottleneck(r, cores),
      ];
    }),
  );
}

/** Each call's rate on `to` over its rate on `from`, beside the same ratio for Health/Check. */
export function scalingTable(rows: readonly ScaleRow[], from: string, to: string): string {
  const rate = (layoutKey: string, call: string): number | undefined =>
    rows.find((r) => r.layoutKey === layoutKey && r.call === call)?.result.reqPerSec;
  const fromLabel = rows.find((r) => r.layoutKey === from)?.layout ?? from;
  const toLabel = rows.find((r) => r.layoutKey === to)?.layout ?? to;
  return table(
    ["Call", `${fromLabel} req/s`, `${toLabel} req/s`, "factor"],
    SCALE_CALLS.filter((call) => rate(from, call) !== undefined && rate(to, call) !== undefined).map((call) => {
      const a = rate(from, call) ?? NaN;
      const b = rate(to, call) ?? NaN;
      return [CALL_LABELS[call], fixed(a, 0), fixed(b, 0), `${fixed(b / a, 2)}×`];
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
