import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Redis } from "ioredis";
import { ROOT } from "./children.js";
import { H2LOAD } from "./h2load.js";

/** What the numbers were measured on. */
export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly node: string;
  readonly h2load: string;
  readonly redis: string;
  /** The commit measured, with "+ local changes" when src/ or gen/ differ from it. */
  readonly revision: string;
  /** Share of CPU time the machine spent busy in the second before the run (other processes). */
  readonly busyBefore: number;
}

export async function describeMachine(redis: Redis): Promise<Machine> {
  const info = await redis.info("server");
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    h2load: execFileSync(H2LOAD, ["--version"], { encoding: "utf8" }).trim(),
    redis: /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown",
    revision: revision(),
    busyBefore: await busyShare(1_000),
  };
}

export function machineLines(m: Machine): string[] {
  return [
    `Machine: ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.h2load}, redis-server ${m.redis}`,
    `Code: ${m.revision}`,
    `CPU busy before the run (other processes): ${(m.busyBefore * 100).toFixed(0)}%` +
      (m.busyBefore > 0.1 ? "  — WARNING: the machine is not idle; numbers will be lower and noisier" : ""),
  ];
}

function revision(): string {
  try {
    const git = (...args: string[]): string => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--", "src", "gen") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + local changes in src/ or gen/" : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

/** Fraction of all cores' time spent not idle over `ms` (from /proc/stat). */
async function busyShare(ms: number): Promise<number> {
  const read = (): { idle: number; total: number } => {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = read();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}
