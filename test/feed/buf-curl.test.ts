import { once } from "node:events";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bufCurl, spawnBufCurl } from "../support/buf-curl.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, startFeedServer } from "./support.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startFeedServer();
});
afterAll(async () => {
  await server?.stop();
});

const flags = () => ["--protocol", "grpc", "--http2-prior-knowledge"];
const url = (method: string) => `${server.grpcUrl}/boxoffice.v1.ChangeFeedService/${method}`;

it("works from buf curl as the README shows: Subscribe, Ack, GetFeedStats", async () => {
  const eventId = uniqueId();
  const [id] = await appendJoins(server, eventId, 1);
  const subscribe = spawnBufCurl(
    ...flags(),
    "-d",
    JSON.stringify({ event_id: eventId, group: "billing", consumer: "worker-1", start: "SUBSCRIBE_START_BEGINNING", max_in_flight: 100 }),
    url("Subscribe"),
  );
  const exited = once(subscribe, "exit");
  let output = "";
  await new Promise<void>((resolve) => {
    subscribe.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(id as string)) resolve();
    });
  });
  subscribe.kill("SIGINT");
  await exited;
  expect(output).toContain('"queueJoined"');

  const ack = await bufCurl(...flags(), "-d", JSON.stringify({ event_id: eventId, group: "billing", ids: [id] }), url("Ack"));
  expect(JSON.parse(ack.stdout)).toEqual({ acknowledged: 1 });
  const stats = await bufCurl(...flags(), "-d", JSON.stringify({ event_id: eventId }), url("GetFeedStats"));
  expect(JSON.parse(stats.stdout)).toMatchObject({ eventId, length: "1", groups: [{ group: "billing", deliveredTotal: "1", ackedTotal: "1" }] });
});
