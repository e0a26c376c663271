import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../src/client/index.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "../e2e/server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser bundle of one entry point, in memory; fails on anything a browser cannot load (node: built-ins included). */
async function bundle(entry: string) {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
    tsconfig: join(root, "examples/browser/tsconfig.json"),
  });
  return { code: result.outputFiles[0]?.text ?? "", inputs: Object.keys(result.metafile.inputs) };
}

describe("the client entry in a browser", () => {
  it("bundles for the browser platform without Node built-ins or the pass verifier", async () => {
    const { code, inputs } = await bundle("src/client/index.ts");
    expect(code.length).toBeGreaterThan(0);
    // Only the client, the generated code and libraries: no Node built-ins, no pass verifier, nothing of the server.
    expect(inputs.filter((input) => !/^(src\/client\/|gen\/|node_modules\/)/.test(input))).toEqual([]);
    expect(inputs).toContain("src/client/watch-position.ts");
    await expect(build({ entryPoints: [join(root, "src/client/pass.ts")], bundle: true, platform: "browser", write: false, logLevel: "silent" })).rejects.toThrow(/node:crypto/);
  });

  describe("a page on another origin", () => {
    let pageServer: http.Server;
    let pageOrigin: string;
    let server: RunningServer;
    let context: BrowserContext;
    let profile: string;

    beforeAll(async () => {
      const [{ code }, html] = await Promise.all([bundle("examples/browser/page.ts"), readFile(join(root, "examples/browser/page.html"), "utf8")]);
      pageServer = http.createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://page").pathname;
        if (path === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(code);
        else if (path === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
      // Same host, another port: another origin, so every call is cross-origin.
      pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
      server = await startServer({ CORS_ORIGINS: pageOrigin, ADMIT_INTERVAL_MS: "20" });
      profile = await mkdtemp(join(tmpdir(), "boxoffice-chromium-"));
      context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    });
    afterAll(async () => {
      await context?.close();
      await server?.stop();
      await new Promise((resolve) => pageServer?.close(resolve));
      if (profile !== undefined) await rm(profile, { recursive: true, force: true });
    });

    it.each(["connect", "grpc-web"])("joins and watches until admitted over %s", async (protocol) => {
      const eventId = uniqueId();
      await server.client(QueueService).configureQueue({ eventId, admitRatePerSec: 1000 });
      const page = await context.newPage();
      try {
        const query = new URLSearchParams({ baseUrl: server.connectUrl, eventId, userId: "browser-user", protocol });
        await page.goto(`${pageOrigin}/?${query}`);
        const text = await page.locator("#result[data-done]").textContent({ timeout: 20_000 });
        expect(JSON.parse(text ?? "{}")).toEqual({
          ok: true,
          protocol,
          newlyJoined: true,
          states: expect.arrayContaining(["ADMITTED"]),
          hasPass: true,
          missingEventReason: "EVENT_NOT_FOUND",
        });
        expect(JSON.parse(text ?? "{}").states.at(-1)).toBe("ADMITTED");
      } finally {
        await page.close();
      }
    });
  });
});
