import type { Redis } from "ioredis";
import type { SeatMapSection } from "../src/seats/types.js";

/** What the bench scripts that time single Redis functions share. */

/** `INFO commandstats` as calls and total µs per command. */
export function parseCommandStats(info: string): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+),/gm)) {
    stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

/** The i-th pair of adjacent seats of section A, in rows of `seatsPerRow`. */
export function seatPair(i: number, seatsPerRow: number): string[] {
  const row = Math.floor((2 * i) / seatsPerRow) + 1;
  const seat = ((2 * i) % seatsPerRow) + 1;
  return [`A-R${row}-${seat}`, `A-R${row}-${seat + 1}`];
}

/** A section of `rows` rows of `seats` seats, ids `<section>-R<row>-<seat>`. */
export function grid(sectionId: string, rows: number, seats: number): SeatMapSection {
  return {
    sectionId,
    rows: Array.from({ length: rows }, (_, r) => ({
      rowId: `R${r + 1}`,
      seatIds: Array.from({ length: seats }, (_, s) => `${sectionId}-R${r + 1}-${s + 1}`),
    })),
  };
}

export function expectKind(result: { readonly kind: string }, kind: string): void {
  if (result.kind !== kind) throw new Error(`expected ${kind}, got ${result.kind}`);
}

/** A positive integer from the environment, or `fallback` when unset. */
export function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** One field of an `INFO` section's text; "?" when absent. */
export function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? "?";
}

/** `INFO memory` used_memory, bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  return Number(infoField(await redis.info("memory"), "used_memory"));
}
