/**
 * Stream ids as callers send them ("1700000000000-0"): the proto's pattern
 * checks their shape; this checks that both parts fit Redis's 64-bit
 * integers, so nothing Redis would refuse reaches a script.
 */
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const U64_MAX = 2n ** 64n - 1n;

export function isStreamId(id: string): boolean {
  const match = STREAM_ID.exec(id);
  return match !== null && BigInt(match[1] as string) <= U64_MAX && BigInt(match[2] as string) <= U64_MAX;
}

/** The time part of an outbox id (epoch ms); undefined for ids without one (`0-<n>`) or beyond safe integers. */
export function streamIdMs(id: string): number | undefined {
  const match = STREAM_ID.exec(id);
  const ms = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}
