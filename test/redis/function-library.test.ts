import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { buildLibrary } from "../../src/redis/function-library.js";
import { LibraryLoadError, ScriptRunner } from "../../src/redis/script-loader.js";
import { connectRedis, uniqueId } from "../support/redis.js";

/** A directory of .lua files for one test, removed when it ends. */
function luaDir(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), "lua-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return pathToFileURL(`${dir}/`);
}

const ECHO = `--[[
  Echoes its keys and arguments after a constant of the prelude.
  KEYS[1] a   KEYS[2] b
  ARGV[1..] anything
]]
local out = { GREETING, KEYS[1], KEYS[2] }
for _, arg in ipairs(ARGV) do
  out[#out + 1] = arg
end
return out
`;

const READ = `--[[
  Reads one key.
  KEYS[1] key
  Flags: no-writes
]]
return redis.call('GET', KEYS[1]) or ''
`;

describe("buildLibrary", () => {
  it("wraps each file as a function of (KEYS, ARGV) after a prelude defined once, with the key count from the file name", async () => {
    const feature = `test_${uniqueId("lib").replaceAll("-", "_")}`;
    const library = buildLibrary(feature, luaDir({ "echoPair-2.lua": ECHO, "readOne-1.lua": READ }), ["echoPair-2.lua", "readOne-1.lua"], "local GREETING = 'hi'\n");
    expect(library.source.startsWith(`#!lua name=${library.name}\n`)).toBe(true);
    expect(library.name).toMatch(new RegExp(`^${feature}_[0-9a-f]{12}$`));
    const echo = library.functions.get("echoPair");
    expect(echo).toMatchObject({ numberOfKeys: 2, readOnly: false, functionName: `echoPair_${library.name.slice(-12)}` });
    expect(library.functions.get("readOne")).toMatchObject({ numberOfKeys: 1, readOnly: true });

    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.function("DELETE", library.name).catch(() => undefined);
      await redis.quit();
    });
    const runner = new ScriptRunner<"echoPair" | "readOne">(redis, library);
    expect(await runner.run("echoPair", ["k1", "k2"], ["a", 7])).toEqual(["hi", "k1", "k2", "a", "7"]);
    const key = uniqueId();
    onTestFinished(async () => {
      await redis.del(key);
    });
    await redis.set(key, "stored");
    expect(await runner.run("readOne", [key], [])).toBe("stored");
  });

  it("names a library after its content, so any change of prelude or script gives other names", () => {
    const files = ["echoPair-2.lua"];
    const a = buildLibrary("lib", luaDir({ "echoPair-2.lua": ECHO }), files, "local GREETING = 'hi'\n");
    const same = buildLibrary("lib", luaDir({ "echoPair-2.lua": ECHO }), files, "local GREETING = 'hi'\n");
    const prelude = buildLibrary("lib", luaDir({ "echoPair-2.lua": ECHO }), files, "local GREETING = 'hello'\n");
    const body = buildLibrary("lib", luaDir({ "echoPair-2.lua": ECHO.replace("ipairs", "pairs") }), files, "local GREETING = 'hi'\n");
    expect(same.name).toBe(a.name);
    expect(same.sha1).toBe(a.sha1);
    expect(new Set([a.name, prelude.name, body.name]).size).toBe(3);
    expect(new Set([a.functions.get("echoPair")?.functionName, body.functions.get("echoPair")?.functionName]).size).toBe(2);
  });

  it("refuses a file not named verbNoun-N.lua, one without its contract header, and an unknown flag", () => {
    expect(() => buildLibrary("lib", luaDir({ "echo.lua": ECHO }), ["echo.lua"], "")).toThrow(/not verbNoun-N\.lua/);
    expect(() => buildLibrary("lib", luaDir({ "echoPair-2.lua": "return 1\n" }), ["echoPair-2.lua"], "")).toThrow(/contract/);
    const flagged = READ.replace("no-writes", "allow-oom");
    expect(() => buildLibrary("lib", luaDir({ "readOne-1.lua": flagged }), ["readOne-1.lua"], "")).toThrow(/unknown flag allow-oom/);
  });

  it("reports a library Redis refuses as LibraryLoadError, and tries the load again on the next call", async () => {
    const broken = buildLibrary("broken", luaDir({ "readOne-1.lua": READ.replace("or ''", "or") }), ["readOne-1.lua"], "");
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    const runner = new ScriptRunner<"readOne">(redis, broken);
    const errors: unknown[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await runner.run("readOne", ["k"], []).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LibraryLoadError);
      expect((error as Error).message).toMatch(new RegExp(`Lua library ${broken.name} .*Error compiling function`));
      errors.push(error);
    }
    // A failed load is not kept: the second call sent its own (a kept one would reject with the same error).
    expect(errors[1]).not.toBe(errors[0]);
  });
});
