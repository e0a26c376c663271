import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";

/** A Lua script with its prelude, ready to be defined on a client. */
export interface LuaScript {
  /** File name without `-N.lua`: `joinQueue` for `joinQueue-7.lua`. */
  readonly name: string;
  readonly numberOfKeys: number;
  /** Full source as sent to Redis (prelude + library + script). */
  readonly source: string;
  /** SHA1 of `source`: what EVALSHA uses. Pinned by a test. */
  readonly sha1: string;
}

const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;

/**
 * Reads `verbNoun-N.lua` files from `dir` and prepends `prelude` to each. The
 * key count comes from the file name, so a script and its caller cannot
 * disagree about it silently: `ScriptRunner` checks it on every call.
 */
export function loadScripts(dir: URL, files: readonly string[], prelude: string): ReadonlyMap<string, LuaScript> {
  const scripts = new Map<string, LuaScript>();
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) {
      throw new Error(`script file name ${file} is not verbNoun-N.lua`);
    }
    const [, name, keys] = match as unknown as [string, string, string];
    const source = prelude + readFileSync(new URL(file, dir), "utf8");
    const sha1 = createHash("sha1").update(source).digest("hex");
    scripts.set(name, { name, numberOfKeys: Number(keys), source, sha1 });
  }
  return scripts;
}

type ScriptCommand = (...args: Array<string | number>) => Promise<unknown>;
type PipelineCommand = (...args: Array<string | number>) => ChainableCommander;

/**
 * Runs loaded scripts on one ioredis client with EVALSHA (falling back to EVAL
 * once per connection, which ioredis does for defined commands). Built once
 * by the composition root; request handlers only call `run`.
 */
export class ScriptRunner<Name extends string> {
  readonly #redis: Redis;
  readonly #scripts: ReadonlyMap<string, LuaScript>;

  constructor(redis: Redis, scripts: ReadonlyMap<string, LuaScript>) {
    this.#redis = redis;
    this.#scripts = scripts;
    for (const script of scripts.values()) {
      redis.defineCommand(commandName(script.name), {
        numberOfKeys: script.numberOfKeys,
        lua: script.source,
      });
    }
  }

  /** Runs a script; the reply is `unknown` until its decoder has checked it. */
  run(name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const command = this.#command(name, keys) as unknown as Record<string, ScriptCommand>;
    const fn = command[commandName(name)] as ScriptCommand;
    return fn.call(this.#redis, ...keys, ...args);
  }

  /** Queues a script on a pipeline or transaction built from the same client. */
  queue(pipeline: ChainableCommander, name: Name, keys: readonly string[], args: ReadonlyArray<string | number>): ChainableCommander {
    this.#command(name, keys);
    const fn = (pipeline as unknown as Record<string, PipelineCommand>)[commandName(name)] as PipelineCommand;
    return fn.call(pipeline, ...keys, ...args);
  }

  #command(name: Name, keys: readonly string[]): Redis {
    const script = this.#scripts.get(name);
    if (!script) {
      throw new Error(`unknown script ${name}`);
    }
    if (keys.length !== script.numberOfKeys) {
      throw new Error(`script ${name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
    }
    return this.#redis;
  }
}

function commandName(name: string): string {
  return `bo_${name}`;
}
