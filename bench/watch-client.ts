/**
 * Fan-out load: opens one WatchPosition stream per user over a few HTTP/2
 * connections (`node:http2`, gRPC framing by hand) and reports, for each
 * measured round, when the first and the last stream received its
 * decremented position.
 *
 * Run as a child of the benchmark. Reads its job from `BENCH_JOB` (JSON);
 * IPC protocol: → `ready` once every stream has its first message;
 * ← `expect` arms a round (every stream must come to position − `by`, 1 unless
 * given, each message on the way nearer to it) → `armed`; → `updated` when
 * all have, with the messages the round took; ← `close` → `closed`.
 */
import { fromBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { WatchPositionRequestSchema, WatchPositionResponseSchema } from "../gen/boxoffice/v1/queue_pb.js";
import { FrameReader, framedRequest, grpcHeaders, peekTicket } from "./grpc-wire.js";
import { connectForStreams, runChild } from "./h2-client.js";

export interface WatchJob {
  readonly port: number;
  readonly eventId: string;
  /** Users `<userPrefix><first + i>` for i < count. */
  readonly userPrefix: string;
  readonly first: number;
  readonly count: number;
  readonly sessions: number;
  /** Most streams waiting for their first message at a time (all at once when unset). */
  readonly maxOpening?: number;
}

export type WatchClientMessage =
  | {
      kind: "ready";
      streams: number;
      sessions: number;
      endedEarly: number;
      /** How the streams that ended early ended: `grpc-status grpc-message` → count. */
      endReasons: Record<string, number>;
      minPosition: number;
      maxPosition: number;
      setupMs: number;
    }
  | { kind: "armed" }
  | { kind: "updated"; firstAt: number; lastAt: number; wrong: number; messages: number }
  | { kind: "closed"; endedEarly: number };

interface Watch {
  readonly userId: string;
  position: number;
  /** Position this stream must come to in the current round; 0 when not armed or already there. */
  expected: number;
  ended: boolean;
  stream: http2.ClientHttp2Stream;
}

const PATH = "/boxoffice.v1.QueueService/WatchPosition";
const now = (): number => performance.timeOrigin + performance.now();

async function main(job: WatchJob): Promise<void> {
  const started = performance.now();
  // Never queue streams behind the server's limit: open enough connections for all of them.
  const sessions = await connectForStreams(job.port, job.sessions, job.count);

  const watches: Watch[] = [];
  let waitingFirst = job.count;
  let pending = 0;
  let wrong = 0;
  let messages = 0;
  let endedEarly = 0;
  const endReasons: Record<string, number> = {};
  let firstAt = 0;
  let lastAt = 0;
  let closing = false;
  let onReady: () => void = () => {};
  const allReady = new Promise<void>((resolve) => (onReady = resolve));

  let opened = 0;
  const openNext = (): void => {
    if (opened < job.count) open(opened++);
  };
  const open = (i: number): void => {
    const userId = `${job.userPrefix}${job.first + i}`;
    const session = sessions[i % sessions.length] as http2.ClientHttp2Session;
    const stream = session.request(grpcHeaders(PATH));
    const watch: Watch = { userId, position: -1, expected: 0, ended: false, stream };
    watches.push(watch);
    const reader = new FrameReader();
    stream.on("data", (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const { position } = peekTicket(message);
        if (watch.position === -1) {
          const full = fromBinary(WatchPositionResponseSchema, message);
          if (full.ticket?.position !== position || full.ticket.userId !== userId) {
            throw new Error(`peekTicket disagrees with protobuf-es for ${userId}`);
          }
          watch.position = position;
          if (--waitingFirst === 0) onReady();
          openNext();
          continue;
        }
        messages++;
        if (watch.expected !== 0 && position === watch.expected) {
          const at = now();
          if (firstAt === 0) firstAt = at;
          lastAt = at;
          watch.expected = 0;
          if (--pending === 0) send({ kind: "updated", firstAt, lastAt, wrong, messages });
        } else if (watch.expected === 0 || position < watch.expected || position >= watch.position) {
          // Unarmed, past the round's place, or not nearer the front than the last one.
          wrong++;
        }
        watch.position = position;
      }
    });
    let reason = "no grpc-status";
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) reason = `${String(h["grpc-status"])} ${decodeURIComponent(String(h["grpc-message"] ?? ""))}`;
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("error", (err: Error) => (reason = `stream error: ${err.message}`));
    stream.on("close", () => {
      watch.ended = true;
      if (closing) return;
      endedEarly++;
      endReasons[reason] = (endReasons[reason] ?? 0) + 1;
      // A stream that ends before its first message must not hold up the start.
      if (watch.position === -1) {
        if (--waitingFirst === 0) onReady();
        openNext();
      }
    });
    stream.end(framedRequest(WatchPositionRequestSchema, { eventId: job.eventId, userId }));
  };
  for (let i = Math.min(job.count, job.maxOpening ?? job.count); i > 0; i--) openNext();
  await allReady;
  const positions = watches.map((w) => w.position).filter((p) => p !== -1);
  send({
    kind: "ready",
    streams: watches.length,
    sessions: sessions.length,
    endedEarly,
    endReasons,
    minPosition: Math.min(...positions),
    maxPosition: Math.max(...positions),
    setupMs: performance.now() - started,
  });

  process.on("message", (message: { kind: string; by?: number }) => {
    if (message.kind === "expect") {
      firstAt = 0;
      lastAt = 0;
      wrong = 0;
      messages = 0;
      const live = watches.filter((w) => !w.ended && w.position > 0);
      pending = live.length;
      for (const watch of live) watch.expected = watch.position - (message.by ?? 1);
      send({ kind: "armed" });
    } else if (message.kind === "close") {
      closing = true;
      for (const watch of watches) watch.stream.close(http2.constants.NGHTTP2_CANCEL);
      for (const session of sessions) session.close();
      send({ kind: "closed", endedEarly }, () => process.exit(0));
    }
  });
}

function send(message: WatchClientMessage, then: () => void = () => {}): void {
  process.send?.(message, then);
}

runChild<WatchJob>("watch-client", main);
