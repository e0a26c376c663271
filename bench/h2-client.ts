/**
 * What the load-generator children share: HTTP/2 connections to the service
 * under test, and the entry point that reads a child's job from `BENCH_JOB`.
 */
import http2 from "node:http2";

/** One HTTP/2 connection to 127.0.0.1:`port`, resolved once the server's settings arrived. */
export function connectH2(port: number, options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, options);
    session.once("error", reject);
    session.once("remoteSettings", () => resolve(session));
  });
}

/**
 * At least `wanted` connections, and enough that `streams` streams never
 * queue behind the server's concurrent-stream limit. Room for many streams'
 * buffers per connection (`maxSessionMemory`).
 */
export async function connectForStreams(port: number, wanted: number, streams: number): Promise<http2.ClientHttp2Session[]> {
  const options = { maxSessionMemory: 256 };
  const first = await connectH2(port, options);
  const limit = first.remoteSettings.maxConcurrentStreams ?? 100;
  const count = Math.max(wanted, Math.ceil(streams / limit));
  return [first, ...(await Promise.all(Array.from({ length: count - 1 }, () => connectH2(port, options))))];
}

/** Runs a child's `main` with its job from `BENCH_JOB` (JSON); exits 2 without one, 1 when `main` fails. */
export function runChild<Job>(name: string, main: (job: Job) => Promise<void>): void {
  const job = JSON.parse(process.env["BENCH_JOB"] ?? "null") as Job | null;
  if (job === null) {
    process.stderr.write(`${name}: BENCH_JOB is required\n`);
    process.exit(2);
  }
  main(job).catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
