import type { Redis } from "ioredis";
import type { LuaLibrary } from "../../src/redis/function-library.js";

/** What the SHA tests pin: the library's name and text hash, and each function's shape. */
export function describeLibrary(library: LuaLibrary): object {
  return {
    name: library.name,
    sha1: library.sha1,
    functions: Object.fromEntries(
      [...library.functions.values()].map((fn) => [`${fn.name}-${fn.numberOfKeys}`, fn.readOnly ? "no-writes" : "writes"]),
    ),
  };
}

export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** `FUNCTION LIST LIBRARYNAME name`, as { function name: flags } of the library named exactly so. */
export async function listLibrary(redis: Redis, name: string): Promise<Record<string, string[]>> {
  const reply = (await redis.function("LIST", "LIBRARYNAME", name)) as unknown[];
  const libraries = reply.map((entry) => fields(entry));
  const library = libraries.find((entry) => entry["library_name"] === name);
  if (!library) return {};
  const functions = (library["functions"] as unknown[]).map((entry) => fields(entry));
  return Object.fromEntries(functions.map((fn) => [String(fn["name"]), (fn["flags"] as string[]).slice().sort()]));
}

function fields(entry: unknown): Record<string, unknown> {
  const list = entry as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}
