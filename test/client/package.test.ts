import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../e2e/server.js";

/**
 * The callers' package as a caller gets it: packed once, installed from the
 * tarball into a fresh project (peer dependencies from the registry), then
 * used by TypeScript, grpc-js and Python callers against a real server.
 * Every child runs asynchronously: the server answering them lives in this process.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const PASS_KEYS = `k1:${"package-test-secret-".repeat(2)}`;
const SLOW = 180_000;

const installedVersion = async (name: string): Promise<string> =>
  (JSON.parse(await readFile(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

let project: string;
/** What `npm pack --json` reports about one tarball. */
interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

let packed: Packed;
let server: RunningServer;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "boxoffice-caller-"));
  const [pack, started] = await Promise.all([
    run("npm", ["pack", "./clients/node", "--json", "--pack-destination", project], { cwd: root, maxBuffer: 16 << 20 }),
    startServer({ PASS_KEYS, ADMIT_INTERVAL_MS: "20" }),
  ]);
  server = started;
  [packed] = JSON.parse(pack.stdout) as [Packed];
  const tarball = join(project, packed.filename);
  // What a backend team writes: the package, plus the transports it picks (versions as used here, so the cache serves them).
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({
      name: "caller",
      private: true,
      type: "module",
      dependencies: {
        "@boxoffice/client": `file:${tarball}`,
        "@connectrpc/connect-node": await installedVersion("@connectrpc/connect-node"),
        "@grpc/grpc-js": await installedVersion("@grpc/grpc-js"),
      },
    }),
  );
  const compilerOptions = { target: "ES2022", strict: true, types: ["node"], typeRoots: [join(root, "node_modules", "@types")] };
  // A Node backend's usual settings: emits what runs below.
  await writeFile(
    join(project, "tsconfig.node16.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, lib: ["ES2023"], skipLibCheck: true, module: "Node16", moduleResolution: "Node16", rootDir: "src", outDir: "out" },
      include: ["src"],
    }),
  );
  // A bundled app's, checking every declaration file too (connect's own name DOM's HeadersInit).
  await writeFile(
    join(project, "tsconfig.bundler.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, lib: ["ES2023", "DOM"], skipLibCheck: false, module: "ESNext", moduleResolution: "Bundler", noEmit: true },
      include: ["src"],
    }),
  );
  await cp(join(root, "examples", "backend.ts"), join(project, "src", "backend.ts"));
  await cp(join(root, "examples", "grpc-js.ts"), join(project, "src", "grpc-js.ts"));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project, maxBuffer: 16 << 20 });
}, SLOW);

afterAll(async () => {
  await server?.stop();
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

const tsc = (config: string) => run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", config], { cwd: project });
let compiled: ReturnType<typeof tsc> | undefined;
/** The node16 build, done once: the callers below run its output. */
const compile = () => (compiled ??= tsc("tsconfig.node16.json"));

/** Runs a caller and parses the JSON line it prints last. */
async function lastJson(file: string, args: string[], env: Record<string, string> = {}): Promise<unknown> {
  const { stdout } = await run(file, args, { cwd: project, env: { ...process.env, ...env }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "null");
}

describe("the packed client package", () => {
  it("ships the client, the generated code, the verifier and the contract; nothing of the server", async () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["dist/src/client/index.js", "dist/src/client/pass.js", "dist/src/client/grpc-js.js", "proto/boxoffice/v1/queue.proto", "proto/boxoffice.binpb"]));
    expect(files.filter((f) => /\.(map|lua)$/.test(f) || /^dist\/src\/(queue|seats|redis|services|transport|rpc)\//.test(f))).toEqual([]);
    const installed = await readdir(join(project, "node_modules"));
    expect(installed.filter((name) => ["ioredis", "pino"].includes(name))).toEqual([]);
    expect(await readdir(join(project, "node_modules", "@bufbuild"))).toEqual(["protobuf"]);
    const manifest = JSON.parse(await readFile(join(project, "node_modules", "@boxoffice", "client", "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest["dependencies"]).toBeUndefined();
    expect(Object.keys(manifest["peerDependencies"] as object).sort()).toEqual(["@bufbuild/protobuf", "@connectrpc/connect", "@grpc/grpc-js"]);
  });

  it("typechecks callers under moduleResolution bundler and node16", async () => {
    await expect(Promise.all([tsc("tsconfig.bundler.json"), compile()])).resolves.toBeDefined();
  }, SLOW);

  it("runs the backend example from the installed package, as a script", async () => {
    await compile();
    const result = await lastJson(process.execPath, [join("out", "backend.js"), server.grpcUrl], { PASS_KEYS });
    expect(result).toMatchObject({ passCheck: "valid", refusal: { reason: "SEAT_UNAVAILABLE" } });
  }, SLOW);

  it("serves a plain @grpc/grpc-js caller through the grpc-js entry, error details included", async () => {
    await compile();
    const result = await lastJson(process.execPath, [join("out", "grpc-js.js"), `127.0.0.1:${server.grpcPort}`]);
    expect(result).toMatchObject({ states: ["WAITING", "LEFT"], missingEvent: { code: 5, reason: "EVENT_NOT_FOUND", domainReason: true } });
  }, SLOW);

  it("serves Python grpcio from the shipped descriptor set", async () => {
    const protoDir = join(project, "node_modules", "@boxoffice", "client", "proto");
    const result = await lastJson("/usr/bin/python3", [join(root, "examples", "python", "caller.py"), protoDir, `127.0.0.1:${server.grpcPort}`]);
    expect(result).toEqual({
      newly_joined: true,
      position: 1,
      states: ["TICKET_STATE_WAITING", "TICKET_STATE_LEFT"],
      error: { code: "NOT_FOUND", reason: "EVENT_NOT_FOUND", domain: "boxoffice.v1" },
    });
  }, SLOW);
});
