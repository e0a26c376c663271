import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** One `verbNoun-N.lua` file, registered as a function of its feature's library. */
export interface LuaFunction {
  /** File name without `-N.lua`: `joinQueue` for `joinQueue-6.lua`. */
  readonly name: string;
  readonly numberOfKeys: number;
  /** Its header says `Flags: no-writes`: registered so, and called with FCALL_RO. */
  readonly readOnly: boolean;
  /** What FCALL names: `<name>_<version>`. */
  readonly functionName: string;
}

/**
 * A feature's scripts as one Redis Functions library: the prelude (constants
 * and shared helpers) defined once per load, then each script's body
 * registered as a function of (KEYS, ARGV).
 */
export interface LuaLibrary {
  /** `<feature>_<version>`, the name FUNCTION LOAD registers. */
  readonly name: string;
  /** The library text sent with FUNCTION LOAD. */
  readonly source: string;
  /** SHA1 of `source`. Pinned by a test. */
  readonly sha1: string;
  readonly functions: ReadonlyMap<string, LuaFunction>;
}

const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;
const HEADER = /^--\[\[([\s\S]*?)\]\]/;
const FLAGS = /^\s*Flags:\s*(.*?)\s*$/m;
const KNOWN_FLAGS = new Set(["no-writes"]);
/** Hex digits of the content hash in library and function names. */
const VERSION_DIGITS = 12;

interface ScriptFile {
  readonly file: string;
  readonly name: string;
  readonly numberOfKeys: number;
  readonly flags: readonly string[];
  readonly body: string;
}

/**
 * Builds `feature`'s library from `verbNoun-N.lua` files in `dir` and a
 * rendered `prelude`. The key count comes from the file name, so a script
 * and its caller cannot disagree about it silently: `ScriptRunner` checks it
 * on every call. Library and function names carry a hash of the content, so
 * two builds running side by side (a rolling deploy) each call their own
 * code instead of replacing each other's.
 */
export function buildLibrary(feature: string, dir: URL, files: readonly string[], prelude: string): LuaLibrary {
  const scripts = files.map((file) => readScript(dir, file));
  const content = createHash("sha1").update(prelude);
  for (const script of scripts) {
    content.update(`\0${script.file}\0${script.flags.join(",")}\0${script.body}`);
  }
  const version = content.digest("hex").slice(0, VERSION_DIGITS);

  const functions = new Map<string, LuaFunction>();
  const parts = [`#!lua name=${feature}_${version}\n`, prelude];
  for (const script of scripts) {
    const fn: LuaFunction = {
      name: script.name,
      numberOfKeys: script.numberOfKeys,
      readOnly: script.flags.includes("no-writes"),
      functionName: `${script.name}_${version}`,
    };
    functions.set(script.name, fn);
    parts.push(register(script, fn));
  }
  const source = parts.join("");
  return { name: `${feature}_${version}`, source, sha1: createHash("sha1").update(source).digest("hex"), functions };
}

function readScript(dir: URL, file: string): ScriptFile {
  const match = FILE_NAME.exec(file);
  if (!match) {
    throw new Error(`script file name ${file} is not verbNoun-N.lua`);
  }
  const [, name, keys] = match as unknown as [string, string, string];
  const body = readFileSync(new URL(file, dir), "utf8");
  const header = HEADER.exec(body)?.[1];
  if (header === undefined) {
    throw new Error(`${file} does not start with its --[[ contract ]] header`);
  }
  const flags = (FLAGS.exec(header)?.[1] ?? "").split(/[\s,]+/).filter((flag) => flag !== "");
  for (const flag of flags) {
    if (!KNOWN_FLAGS.has(flag)) throw new Error(`${file}: unknown flag ${flag}`);
  }
  return { file, name, numberOfKeys: Number(keys), flags, body };
}

/** A script's body as the callback of its function; KEYS and ARGV become its parameters. */
function register(script: ScriptFile, fn: LuaFunction): string {
  const flags = script.flags.map((flag) => `'${flag}'`).join(", ");
  return [
    "",
    `-- ${script.file}`,
    "redis.register_function{",
    `  function_name = '${fn.functionName}',`,
    `  flags = { ${flags} },`,
    "  callback = function(KEYS, ARGV)",
    script.body.trimEnd(),
    "  end,",
    "}",
    "",
  ].join("\n");
}
