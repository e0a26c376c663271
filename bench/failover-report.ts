import type { ConfirmOutcome } from "./failover-client.js";
import type { FailoverResult } from "./failover.js";
import { table } from "./report.js";

/** The confirms' timeline around the kill, in the three stretches the scenario reports. */
export interface FailoverTimeline {
  /** Last OK answer to a confirm sent before the kill, first OK answer to one sent after it (epoch ms). */
  readonly lastOkBefore: number;
  readonly firstOkAfter: number;
  readonly stretches: ReadonlyArray<{ readonly name: string; readonly from: number; readonly to: number; readonly sent: number; readonly ok: number }>;
  /** Failures by `CODE/REASON`. */
  readonly failures: Readonly<Record<string, number>>;
}

export function timeline(r: FailoverResult): FailoverTimeline {
  const ok = r.confirms.filter((c) => c.code === "OK");
  const lastOkBefore = Math.max(...ok.filter((c) => c.sentAt < r.killAt).map((c) => c.doneAt));
  const firstOkAfter = Math.min(...ok.filter((c) => c.sentAt >= r.killAt).map((c) => c.doneAt));
  const end = Math.max(...r.confirms.map((c) => c.doneAt));
  const stretch = (name: string, from: number, to: number): FailoverTimeline["stretches"][number] => {
    const sent = r.confirms.filter((c) => c.sentAt >= from && c.sentAt < to);
    return { name, from, to, sent: sent.length, ok: sent.filter((c) => c.code === "OK").length };
  };
  const failures: Record<string, number> = {};
  for (const c of r.confirms.filter((x) => x.code !== "OK")) {
    const key = c.reason ? `${c.code}/${c.reason}` : c.code;
    failures[key] = (failures[key] ?? 0) + 1;
  }
  return {
    lastOkBefore,
    firstOkAfter,
    stretches: [
      stretch("before the kill", r.startAt, r.killAt),
      stretch("during (kill → first OK)", r.killAt, Number.isFinite(firstOkAfter) ? firstOkAfter : end),
      stretch("after", Number.isFinite(firstOkAfter) ? firstOkAfter : end, end + 1),
    ],
    failures,
  };
}

const signed = (ms: number): string => `${ms < 0 ? "−" : "+"}${(Math.abs(ms) / 1000).toFixed(2)}`;

export function failoverTable(r: FailoverResult): string {
  const t = timeline(r);
  const s = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "–");
  const rows = t.stretches.map((x) => {
    const seconds = (x.to - x.from) / 1000;
    return [x.name, s(x.to - x.from), String(x.sent), String(x.ok), seconds > 0 ? (x.ok / seconds).toFixed(0) : "–"];
  });
  return [
    table(["Stretch (by send time)", "seconds", "confirms sent", "OK", "OK confirms/s"], rows),
    "",
    `- primary :${r.event.primary} (slot ${r.event.slot}) SIGKILLed ${s(r.killAt - r.startAt)} s into the confirms; ` +
      `CLUSTER FAILOVER FORCE on :${r.replica} ${r.forceAt - r.killAt} ms later; :${r.replica} primary ${r.promotedAt - r.killAt} ms after the kill`,
    `- gap: last OK answer to a confirm sent before the kill at kill ${signed(t.lastOkBefore - r.killAt)} s, ` +
      `first OK answer to one sent after it at kill ${signed(t.firstOkAfter - r.killAt)} s: ${s(t.firstOkAfter - t.lastOkBefore)} s without a sale`,
    `- failed confirms: ${Object.entries(t.failures).map(([k, v]) => `${v} × ${k}`).join(", ") || "none"}` +
      ` (${r.failedButApplied} of them took effect all the same)`,
    `- lost confirmed sales (OK, not CONFIRMED afterwards): ${r.lost} of ${r.confirms.filter((c: ConfirmOutcome) => c.code === "OK").length} OK` +
      ` — without REDIS_WAIT_REPLICAS an acknowledged sale may in principle be lost on a failover`,
    ...(r.problems.length > 0 ? [`- FAIL: the seat check: ${r.problems.join("; ")}`] : [`- ${r.invariant}`]),
    `- service: ${r.serviceCores.toFixed(2)} cores while confirming at ${r.rate}/s`,
  ].join("\n");
}
