/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. the service's
 * profile written by `BENCH_CPU_PROFILE_DIR=… npm run bench`): self time by
 * function and by module, and total (inclusive) time of chosen frames.
 *
 *   tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [frame-substring…]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, ...frames] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top] [frame-substring…]\n");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** Microseconds attributed to each node as the sampled (innermost) frame. */
const self = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

const moduleOf = (url: string): string => {
  if (url === "") return "(native / V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  if (url.startsWith("node:")) return url;
  const local = /\/work\/[^/]+\/(.*)$/.exec(url) ?? /([^/]+\/[^/]+)$/.exec(url);
  return local ? (local[1] as string) : url;
};
const label = (n: ProfileNode): string =>
  `${n.callFrame.functionName || "(anonymous)"} ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const add = (map: Map<string, number>, key: string, us: number): void => {
  map.set(key, (map.get(key) ?? 0) + us);
};
const functions = new Map<string, number>();
const modules = new Map<string, number>();
for (const [id, us] of self) {
  const node = byId.get(id);
  if (!node) continue;
  add(functions, label(node), us);
  add(modules, moduleOf(node.callFrame.url), us);
}

/** Inclusive time of modules, and of frames whose label contains a substring (each counted once per sample). */
const inclusive = new Map<string, number>();
const moduleInclusive = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const hit = new Set<string>();
  const mods = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (!node) break;
    const name = label(node);
    mods.add(moduleOf(node.callFrame.url));
    for (const frame of frames) if (name.includes(frame)) hit.add(frame);
  }
  for (const frame of hit) add(inclusive, frame, dt);
  for (const mod of mods) add(moduleInclusive, mod, dt);
});

const print = (title: string, map: Map<string, number>, n: number): void => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
print("Self time by module", modules, top);
print("Self time by function", functions, top);
print("Total time by module, callees included", moduleInclusive, top);
if (frames.length > 0) print("Total time including callees", inclusive, frames.length);
