import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueueService, QueueState, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { verifyPass } from "../../src/pass/pass.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ ADMIT_INTERVAL_MS: "20" });
});
afterAll(async () => {
  await server?.stop();
});

function pull(stream: AsyncIterable<WatchPositionResponse>) {
  const it = stream[Symbol.asyncIterator]();
  return async (): Promise<WatchPositionResponse> => {
    const r = await it.next();
    if (r.done) throw new Error("stream ended early");
    return r.value;
  };
}

it("admits the head of the line, streaming the pass to the watcher, and frees the slot on leave", async () => {
  const client = server.client(QueueService);
  const eventId = uniqueId();
  await client.configureQueue({ eventId, state: QueueState.PAUSED, admitRatePerSec: 100, maxActive: 1 });
  for (const userId of ["first", "second"]) await client.join({ eventId, userId });
  const first = pull(client.watchPosition({ eventId, userId: "first" }));
  const second = pull(client.watchPosition({ eventId, userId: "second" }));
  expect((await first()).ticket?.position).toBe(1);
  expect((await second()).ticket?.position).toBe(2);

  await client.configureQueue({ eventId, state: QueueState.OPEN });
  const admitted = (await first()).ticket!;
  expect(admitted).toMatchObject({ state: TicketState.ADMITTED, position: 0 });
  const pass = admitted.pass!;
  expect(pass.expiresAt!.seconds - pass.issuedAt!.seconds).toBe(600n);
  const verdict = verifyPass(pass.token, server.app.config.passKeys, { eventId, userId: "first" });
  expect(verdict.kind).toBe("valid");
  // Any read of the ticket carries the same pass: it is derived from the stored admission.
  expect((await client.getPosition({ eventId, userId: "first" })).ticket?.pass?.token).toBe(pass.token);

  expect((await second()).ticket).toMatchObject({ state: TicketState.WAITING, position: 1 });
  const stats = (await client.getQueueStats({ eventId })).stats!;
  expect(stats).toMatchObject({ active: 1, admittedTotal: 1, waiting: 1 });

  // max_active = 1: the second user gets in only once the first session ends.
  await client.leave({ eventId, userId: "first" });
  expect((await second()).ticket).toMatchObject({ state: TicketState.ADMITTED });
  const err = await client.getPosition({ eventId, userId: "ghost" }).catch((e: unknown) => ConnectError.from(e));
  expect(err).toMatchObject({ code: Code.NotFound });
});
