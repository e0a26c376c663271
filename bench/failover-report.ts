import type { ConfirmOutcome } from "./failover-client.js";
import type { FailoverResult } from "./failover.js";
import { table } from "./report.js";

/** A stretch of the run, by send time, and how its confirms were answered. */
export interface FailoverStretch {
  readonly name: string;
  readonly from: number;
  readonly to: number;
  readonly sent: number;
  readonly ok: number;
  readonly notReplicated: number;
  readonly backendUnavailable: number;
  readonly other: number;
}

/** The confirms' timeline around the kill and the killed node's return. */
export interface FailoverTimeline {
  /** Last OK answer to a confirm sent before the kill, first OK answer to one sent after it (epoch ms). */
  readonly lastOkBefore: number;
  readonly firstOkAfter: number;
  /**
   * First answer to a confirm sent after the kill whose script ran on the
   * promoted primary (OK, or NOT_REPLICATED): the service had found it.
   */
  readonly firstRunAfter: number;
  readonly stretches: readonly FailoverStretch[];
  /** Failures by `CODE/REASON` (with BACKEND_UNAVAILABLE's outcome). */
  readonly failures: Readonly<Record<string, number>>;
}

const NOT_REPLICATED = (c: ConfirmOutcome): boolean => c.code === "UNAVAILABLE" && c.reason === "NOT_REPLICATED";
const BACKEND_UNAVAILABLE = (c: ConfirmOutcome): boolean => c.code === "UNAVAILABLE" && c.reason === "BACKEND_UNAVAILABLE";

export function timeline(r: FailoverResult): FailoverTimeline {
  const ok = r.confirms.filter((c) => c.code === "OK");
  const lastOkBefore = Math.max(...ok.filter((c) => c.sentAt < r.killAt).map((c) => c.doneAt));
  const firstOkAfter = Math.min(...ok.filter((c) => c.sentAt >= r.killAt).map((c) => c.doneAt));
  const ran = r.confirms.filter((c) => c.sentAt >= r.killAt && (c.code === "OK" || NOT_REPLICATED(c)));
  const firstRunAfter = Math.min(...ran.map((c) => c.doneAt));
  const end = Math.max(...r.confirms.map((c) => c.doneAt)) + 1;
  const stretch = (name: string, from: number, to: number): FailoverStretch => {
    const sent = r.confirms.filter((c) => c.sentAt >= from && c.sentAt < to);
    const notReplicated = sent.filter(NOT_REPLICATED).length;
    const backendUnavailable = sent.filter(BACKEND_UNAVAILABLE).length;
    const okCount = sent.filter((c) => c.code === "OK").length;
    return { name, from, to, sent: sent.length, ok: okCount, notReplicated, backendUnavailable, other: sent.length - okCount - notReplicated - backendUnavailable };
  };
  const failures: Record<string, number> = {};
  for (const c of r.confirms.filter((x) => x.code !== "OK")) {
    const key = `${c.reason ? `${c.code}/${c.reason}` : c.code}${c.outcome ? ` (${c.outcome})` : ""}`;
    failures[key] = (failures[key] ?? 0) + 1;
  }
  // Bounds in order, clamped: the shard may have its replica back before the service found the new primary.
  const found = Math.min(Number.isFinite(firstRunAfter) ? firstRunAfter : end, end);
  // With a wait, the first OK after the kill is the new replica's first acknowledgement, which
  // the poll of its INFO (on a busy machine) may see later.
  const acked = r.waitReplicas > 0 ? Math.min(r.replicaBackAt, firstOkAfter) : r.replicaBackAt;
  const back = Math.min(Math.max(acked, found), end);
  return {
    lastOkBefore,
    firstOkAfter,
    firstRunAfter,
    stretches: [
      stretch("before the kill", r.startAt, r.killAt),
      stretch("failover (kill → service on the new primary)", r.killAt, found),
      stretch("the shard without a replica", found, back),
      stretch("after its replica is back", back, end),
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
    return [
      x.name,
      s(x.to - x.from),
      String(x.sent),
      String(x.ok),
      String(x.notReplicated),
      String(x.backendUnavailable),
      String(x.other),
      seconds > 0 ? (x.ok / seconds).toFixed(0) : "–",
    ];
  });
  const okCount = r.confirms.filter((c) => c.code === "OK").length;
  const notReplicatedApplied = r.confirms.filter((c) => NOT_REPLICATED(c) && r.applied.has(c.hold)).length;
  return [
    `REDIS_WAIT_REPLICAS=${r.waitReplicas}, REDIS_WAIT_TIMEOUT_MS=${r.waitTimeoutMs}`,
    "",
    table(["Stretch (by send time)", "seconds", "sent", "OK", "NOT_REPLICATED", "BACKEND_UNAVAILABLE", "other", "OK confirms/s"], rows),
    "",
    `- primary :${r.event.primary} (slot ${r.event.slot}) SIGKILLed ${s(r.killAt - r.startAt)} s into the confirms; ` +
      `CLUSTER FAILOVER FORCE on :${r.replica} ${r.forceAt - r.killAt} ms later; :${r.replica} primary ${r.promotedAt - r.killAt} ms after the kill`,
    `- :${r.event.primary} started again at kill ${signed(r.restartAt - r.killAt)} s, seen a replica of :${r.replica} in sync at kill ${signed(r.replicaBackAt - r.killAt)} s` +
      ` (its INFO polled; the last stretch starts at kill ${signed(t.stretches[3]!.from - r.killAt)} s)`,
    `- gaps: last OK answer to a confirm sent before the kill at kill ${signed(t.lastOkBefore - r.killAt)} s; ` +
      `first answer from the promoted primary (OK or NOT_REPLICATED) at kill ${signed(t.firstRunAfter - r.killAt)} s ` +
      `(${s(t.firstRunAfter - t.lastOkBefore)} s without reaching the shard); ` +
      `first OK at kill ${signed(t.firstOkAfter - r.killAt)} s: ${s(t.firstOkAfter - t.lastOkBefore)} s without a sale`,
    `- failed confirms: ${Object.entries(t.failures).map(([k, v]) => `${v} × ${k}`).join(", ") || "none"}` +
      ` (${r.failedButApplied} of them took effect all the same, ${notReplicatedApplied} of those NOT_REPLICATED)`,
    `- lost confirmed sales (OK, not CONFIRMED afterwards): ${r.lost} of ${okCount} OK` +
      (r.waitReplicas > 0
        ? ` — guaranteed 0: each OK was acknowledged by the shard's only replica, the one promoted (a loss fails the run)`
        : ` — without REDIS_WAIT_REPLICAS an acknowledged sale may in principle be lost on a failover`),
    ...(r.problems.length > 0 ? [`- FAIL: the seat check: ${r.problems.join("; ")}`] : [`- ${r.invariant}`]),
    `- service: ${r.serviceCores.toFixed(2)} cores while confirming at ${r.rate}/s`,
  ].join("\n");
}
