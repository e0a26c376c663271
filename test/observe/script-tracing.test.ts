import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import pino from "pino";
import { afterAll, beforeAll, expect, it, onTestFinished } from "vitest";
import { composeScriptObservers, type ScriptObserver } from "../../src/observe/script-observer.js";
import { loadConfig } from "../../src/config.js";
import { startTracing, type Tracing } from "../../src/observe/otel-sdk.js";
import { buildLibrary, type LuaLibrary } from "../../src/redis/function-library.js";
import { ScriptRunner } from "../../src/redis/script-loader.js";
import { connectRedis, uniqueId } from "../support/redis.js";
import { SpanSink } from "../support/span-sink.js";

const sink = new SpanSink();
let tracing: Tracing;
let library: LuaLibrary;
let dir: string;
const redis = connectRedis();

const OK = `--[[
  Returns its argument.
  KEYS[1] key
  ARGV[1] value
  Flags: no-writes
]]
return ARGV[1]
`;

const FAIL = `--[[
  Always refuses, as a programmer error would.
  KEYS[1] key
]]
return redis.error_reply('ERR refused on purpose')
`;

beforeAll(() => {
  tracing = startTracing(
    loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).traces!,
    { logger: pino({ level: "silent" }), spanProcessor: sink.processor },
  );
  dir = mkdtempSync(join(tmpdir(), "lua-"));
  writeFileSync(join(dir, "echoValue-1.lua"), OK);
  writeFileSync(join(dir, "refuseAlways-1.lua"), FAIL);
  library = buildLibrary(`test_${uniqueId("trace").replaceAll("-", "_")}`, pathToFileURL(`${dir}/`), ["echoValue-1.lua", "refuseAlways-1.lua"], "");
});

afterAll(async () => {
  await redis.function("DELETE", library.name).catch(() => undefined);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
  await tracing?.shutdown();
});

/** Runs `fn` with a fresh span current, as a traced call does; returns the span's id. */
async function underSpan(fn: () => Promise<unknown>): Promise<string> {
  const parent = trace.getTracer("test").startSpan("parent");
  onTestFinished(() => parent.end());
  await context.with(trace.setSpan(context.active(), parent), fn);
  return parent.spanContext().spanId;
}

it("makes a client span per script call under the current span, with the error recorded when Redis refuses", async () => {
  const runner = new ScriptRunner<"echoValue" | "refuseAlways">(redis, library, tracing.scripts);
  const key = uniqueId();
  const parentId = await underSpan(async () => {
    expect(await runner.run("echoValue", [key], ["v"])).toBe("v");
    await expect(runner.run("refuseAlways", [key], [])).rejects.toThrow("refused on purpose");
  });
  const spans = sink.spans((s) => s.parentSpanContext?.spanId === parentId);
  expect(spans.map((s) => [s.name, s.kind, s.status.code])).toEqual([
    ["FCALL_RO echoValue", SpanKind.CLIENT, SpanStatusCode.UNSET],
    ["FCALL refuseAlways", SpanKind.CLIENT, SpanStatusCode.ERROR],
  ]);
  expect(spans[0]!.attributes).toEqual({
    "db.system": "redis",
    "db.system.name": "redis",
    "db.operation.name": "FCALL_RO",
    "db.stored_procedure.name": library.functions.get("echoValue")!.functionName,
    "boxoffice.script": "echoValue",
    "boxoffice.script.library": library.name,
  });
  expect(spans[1]!.status.message).toContain("refused on purpose");
  expect(spans[1]!.events.map((e) => [e.name, e.attributes?.["exception.message"]])).toEqual([["exception", expect.stringContaining("refused on purpose")]]);
});

it("makes a span for a script queued on a pipeline, ended by its reply", async () => {
  const runner = new ScriptRunner<"echoValue" | "refuseAlways">(redis, library, tracing.scripts);
  const key = uniqueId();
  const parentId = await underSpan(async () => {
    const pipeline = redis.pipeline();
    runner.queue(pipeline, "echoValue", [key], ["a"]);
    runner.queue(pipeline, "refuseAlways", [key], []);
    const results = await pipeline.exec();
    expect(results?.map(([error, value]) => (error ? "error" : value))).toEqual(["a", "error"]);
  });
  const spans = sink.spans((s) => s.parentSpanContext?.spanId === parentId);
  expect(spans.map((s) => [s.name, s.status.code])).toEqual([
    ["FCALL_RO echoValue", SpanStatusCode.UNSET],
    ["FCALL refuseAlways", SpanStatusCode.ERROR],
  ]);
});

it("makes no span for a script call outside any span (background work)", async () => {
  const runner = new ScriptRunner<"echoValue" | "refuseAlways">(redis, library, tracing.scripts);
  const before = sink.getFinishedSpans().length;
  expect(await runner.run("echoValue", [uniqueId()], ["x"])).toBe("x");
  await tracing.flush();
  expect(sink.getFinishedSpans().length).toBe(before);
});

it("tells every composed observer, and each sees the same outcome", async () => {
  const seen: string[] = [];
  const recorder = (tag: string): ScriptObserver => ({
    start: (lib, script) => ({ end: (error) => seen.push(`${tag} ${lib === library.name} ${script.name} ${error === undefined ? "ok" : "error"}`) }),
  });
  const runner = new ScriptRunner<"echoValue" | "refuseAlways">(redis, library, composeScriptObservers(recorder("a"), undefined, recorder("b")));
  await runner.run("echoValue", [uniqueId()], ["x"]);
  await expect(runner.run("refuseAlways", [uniqueId()], [])).rejects.toThrow();
  expect(seen).toEqual(["a true echoValue ok", "b true echoValue ok", "a true refuseAlways error", "b true refuseAlways error"]);
  expect(composeScriptObservers(undefined)).toBeUndefined();
});
