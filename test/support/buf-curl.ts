import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The buf CLI shipped in node_modules (called through node, so npm prints nothing). */
const BUF = fileURLToPath(new URL("../../node_modules/@bufbuild/buf/bin/buf", import.meta.url));
const run = promisify(execFile);

export interface CurlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `buf curl`; a failed RPC is a result (buf exits with the code shifted left by 3), not a throw. */
export async function bufCurl(...args: string[]): Promise<CurlResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BUF, "curl", ...args], { timeout: 30_000 });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    if (error instanceof Error && "code" in error && typeof error.code === "number" && "stdout" in error && "stderr" in error) {
      return { exitCode: error.code, stdout: String(error.stdout), stderr: String(error.stderr) };
    }
    throw error;
  }
}

/** Starts a long-running `buf curl` (e.g. a server stream) whose output the test reads as it comes. */
export function spawnBufCurl(...args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BUF, "curl", ...args]);
}
