import { describe, expect, it, onTestFinished } from "vitest";
import { loadQueueScripts } from "../../src/queue/scripts.js";
import { ChangeType } from "../../src/redis/change-types.js";
import { Outcome } from "../../src/redis/outcomes.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { connectRedis } from "../support/redis.js";

describe("queue scripts", () => {
  const scripts = loadQueueScripts();

  it("are pinned by SHA, so a change to a script or its prelude is deliberate", () => {
    // Update with `npx vitest run test/queue/scripts.test.ts -u` after reviewing the change.
    expect(Object.fromEntries([...scripts.values()].map((s) => [`${s.name}-${s.numberOfKeys}`, s.sha1]))).toMatchSnapshot();
  });

  it("carry the outcome codes from TypeScript in their prelude", () => {
    for (const script of scripts.values()) {
      for (const [name, code] of Object.entries(Outcome)) {
        expect(script.source).toContain(`local ${name} = ${code}\n`);
      }
    }
  });

  it("carry the outbox's change types from TypeScript in their prelude, and never spell one by hand", () => {
    for (const script of scripts.values()) {
      for (const [name, type] of Object.entries(ChangeType)) {
        expect(script.source).toContain(`local CT_${name} = "${type}"\n`);
      }
      // The prelude renders them in double quotes; a hand-spelled one in a script or library would be in single quotes.
      expect(script.source).not.toMatch(/'(queue|seat)\.[a-z_]+'/);
    }
  });

  it("load into Redis under the SHA computed here", async () => {
    const redis = connectRedis();
    onTestFinished(async () => {
      await redis.quit();
    });
    for (const script of scripts.values()) {
      expect(await redis.script("LOAD", script.source)).toBe(script.sha1);
    }
  });

  it("refuse a call with the wrong number of keys before reaching Redis", () => {
    const redis = connectRedis({ lazyConnect: true });
    const runner = new ScriptRunner(redis, scripts);
    expect(() => runner.run("joinQueue", ["only-one"], [])).toThrow(/takes 8 keys, got 1/);
    redis.disconnect();
  });
});
