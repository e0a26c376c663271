import { readFileSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import { loadQueueScripts } from "../../src/queue/scripts.js";
import { ChangeType } from "../../src/redis/change-types.js";
import { Outcome } from "../../src/redis/outcomes.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { connectRedis } from "../support/redis.js";
import { describeLibrary, listLibrary, occurrences } from "../support/functions.js";

describe("queue scripts", () => {
  const library = loadQueueScripts();

  it("are pinned by the SHA of their library text, so a change to a script or its prelude is deliberate", () => {
    // Update with `npx vitest run test/queue/scripts.test.ts -u` after reviewing the change.
    expect(describeLibrary(library)).toMatchSnapshot();
  });

  it("define the outcome codes from TypeScript once, in the library's prelude", () => {
    for (const [name, code] of Object.entries(Outcome)) {
      expect(occurrences(library.source, `\nlocal ${name} = ${code}\n`)).toBe(1);
    }
    expect(occurrences(library.source, "\nlocal function now_ms(")).toBe(1);
  });

  it("define each helper once per library, and a function refers only to the helpers its body names", () => {
    const text = readFileSync(new URL("../../src/queue/lua/queue-lib.lua", import.meta.url), "utf8");
    const helpers = [...text.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1] as string);
    expect(helpers).toEqual(expect.arrayContaining(["read_ticket", "shuffle_pre_queue", "update_rate", "parse_micro"]));
    for (const helper of helpers) {
      expect(occurrences(library.source, `\nlocal function ${helper}(`), helper).toBe(1);
    }
    // Bodies are closures over the library's locals, not copies of them: the
    // admission helpers appear in the admission function's body alone.
    const bodies = library.source.split("\nredis.register_function{").slice(1);
    expect(bodies).toHaveLength(library.functions.size);
    for (const helper of ["opening_step", "update_rate", "parse_micro", "format_micro"]) {
      const users = bodies.filter((body) => new RegExp(`\\b${helper}\\(`).test(body)).map((body) => /function_name = '([A-Za-z]+)_/.exec(body)?.[1]);
      expect(users, helper).toEqual(["admitQueue"]);
    }
  });

  it("carry the outbox's change types from TypeScript in their prelude, and never spell one by hand", () => {
    for (const [name, type] of Object.entries(ChangeType)) {
      expect(occurrences(library.source, `\nlocal CT_${name} = "${type}"\n`)).toBe(1);
    }
    // The prelude renders them in double quotes; a hand-spelled one in a script or library would be in single quotes.
    expect(library.source).not.toMatch(/'(queue|seat)\.[a-z_]+'/);
  });

  it("load into Redis as one library with every function, readers flagged no-writes", async () => {
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    expect(await redis.function("LOAD", "REPLACE", library.source)).toBe(library.name);
    expect(await listLibrary(redis, library.name)).toEqual(
      Object.fromEntries([...library.functions.values()].map((fn) => [fn.functionName, fn.readOnly ? ["no-writes"] : []])),
    );
    expect(library.functions.get("readQueueStats")?.readOnly).toBe(true);
    expect(library.functions.get("getPosition")?.readOnly).toBe(false); // it refreshes the user's presence
  });

  it("refuse a call with the wrong number of keys before reaching Redis", () => {
    const redis = connectRedis({ lazyConnect: true });
    const runner = new ScriptRunner(redis, library);
    expect(() => runner.run("joinQueue", ["only-one"], [])).toThrow(/takes 6 keys, got 1/);
    expect(() => runner.queue(redis.pipeline(), "joinQueue", ["only-one"], [])).toThrow(/takes 6 keys, got 1/);
    redis.disconnect();
  });
});
