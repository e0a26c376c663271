import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { ScriptMetrics, scriptErrorKind } from "../../src/metrics/script-metrics.js";
import { buildLibrary } from "../../src/redis/function-library.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { FunctionUnavailableError, LibraryLoadError } from "../../src/redis/script-loader.js";
import { composeScriptObservers, type ScriptObserver } from "../../src/observe/script-observer.js";
import { connectRedis, uniqueId } from "../support/redis.js";
import { parsePromText, Scrape } from "./prom-text.js";

const dir = mkdtempSync(join(tmpdir(), "boxoffice-scripts-"));
writeFileSync(join(dir, "answer-1.lua"), "--[[ Returns ARGV[1]. Flags: no-writes ]]\nreturn ARGV[1]\n");
writeFileSync(join(dir, "refuse-1.lua"), "--[[ Always fails. Flags: no-writes ]]\nreturn redis.error_reply('ERR refused on purpose')\n");
const library = buildLibrary(`metrics_${uniqueId("t").replace(/[^a-z0-9]/g, "")}`.slice(0, 40), pathToFileURL(`${dir}/`), ["answer-1.lua", "refuse-1.lua"], "");
const redis = connectRedis();
afterAll(async () => {
  await redis.function("DELETE", library.name).catch(() => undefined);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe("script metrics", () => {
  it("time every call, alone or pipelined, and count failures by kind", async () => {
    const registry = new Registry();
    const runner = new ScriptRunner<"answer" | "refuse">(redis, library, new ScriptMetrics(registry));
    const key = uniqueId();
    expect(await runner.run("answer", [key], ["42"])).toBe("42");
    expect(await runner.run("answer", [key], ["43"])).toBe("43");
    await expect(runner.run("refuse", [key], [])).rejects.toThrow("refused on purpose");
    const pipeline = redis.pipeline();
    runner.queue(pipeline, "answer", [key], ["44"]);
    runner.queue(pipeline, "refuse", [key], []);
    const results = await pipeline.exec();
    expect(results?.map(([error]) => error?.message)).toEqual([undefined, "ERR refused on purpose"]);

    const metrics = new Scrape(parsePromText(await registry.metrics()));
    expect(metrics.value("boxoffice_redis_script_seconds_count", { script: "answer" })).toBe(3);
    expect(metrics.value("boxoffice_redis_script_seconds_count", { script: "refuse" })).toBe(2);
    expect(metrics.value("boxoffice_redis_script_seconds_bucket", { script: "answer", le: "+Inf" })).toBe(3);
    expect(metrics.value("boxoffice_redis_script_seconds_sum", { script: "answer" })).toBeGreaterThan(0);
    expect(metrics.find("boxoffice_redis_script_errors_total")).toEqual([
      { name: "boxoffice_redis_script_errors_total", labels: { script: "refuse", kind: "reply" }, value: 2 },
    ]);
  });

  it("reach every observer when several watch the runner", async () => {
    const registry = new Registry();
    const seen: string[] = [];
    const recorder: ScriptObserver = { start: (_library, script) => ({ end: (error) => seen.push(`${script.name} ${error === undefined ? "ok" : "failed"}`) }) };
    expect(composeScriptObservers(undefined)).toBeUndefined();
    expect(composeScriptObservers(recorder, undefined)).toBe(recorder);
    const runner = new ScriptRunner<"answer" | "refuse">(redis, library, composeScriptObservers(new ScriptMetrics(registry), recorder));
    await runner.run("answer", [uniqueId()], ["1"]);
    await expect(runner.run("refuse", [uniqueId()], [])).rejects.toThrow();
    expect(seen).toEqual(["answer ok", "refuse failed"]);
    const metrics = new Scrape(parsePromText(await registry.metrics()));
    expect(metrics.value("boxoffice_redis_script_errors_total", { script: "refuse", kind: "reply" })).toBe(1);
  });

  it("tell the kinds of failure apart", () => {
    const reply = Object.assign(new Error("ERR boom"), { name: "ReplyError" });
    expect(scriptErrorKind(reply)).toBe("reply");
    expect(scriptErrorKind(new Error("Command timed out"))).toBe("timeout");
    expect(scriptErrorKind(new FunctionUnavailableError("getPosition_0", new Error("ERR Function not found")))).toBe("load");
    expect(scriptErrorKind(new Error("Connection is closed."))).toBe("connection");
    expect(scriptErrorKind(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe("connection");
    expect(scriptErrorKind(Object.assign(new Error("Command aborted due to connection close"), { name: "AbortError" }))).toBe("connection");
    expect(scriptErrorKind(new LibraryLoadError("lib", reply))).toBe("load");
    expect(scriptErrorKind("not an error")).toBe("other");
  });
});
