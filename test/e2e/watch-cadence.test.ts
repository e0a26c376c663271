import { afterAll, describe, expect, it } from "vitest";
import { QueueService, TicketState, type WatchPositionResponse } from "../../gen/boxoffice/v1/queue_pb.js";
import { uniqueId } from "../support/redis.js";
import { startServer, type RunningServer } from "./server.js";

const servers: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function pull(stream: AsyncIterable<WatchPositionResponse>) {
  const it = stream[Symbol.asyncIterator]();
  return async (): Promise<WatchPositionResponse> => {
    const r = await it.next();
    if (r.done) throw new Error("stream ended early");
    return r.value;
  };
}

/**
 * Through the configuration and a real server: places 1–5 hear every change;
 * further back a change of 30% goes at once, and a smaller one waits for an
 * interval (ten minutes here, so it never comes in the test) unless it is 0.
 */
describe.each([
  { cadence: "on", interval: "600000", far: [12, 8] },
  { cadence: "off", interval: "0", far: [12, 11, 10, 9, 8] },
])("WatchPosition with the cadence $cadence", ({ interval, far }) => {
  it("tells the near watcher every change and the far one what the cadence says; an ending at once", async () => {
    const server = await startServer({ WATCH_EXACT_WITHIN: "5", WATCH_FAR_MIN_CHANGE_PERCENT: "30", WATCH_FAR_INTERVAL_MS: interval });
    servers.push(server);
    const client = server.client(QueueService);
    const eventId = uniqueId();
    await client.configureQueue({ eventId });
    for (let i = 1; i <= 12; i++) await client.join({ eventId, userId: `u${i}` });
    const nearNext = pull(client.watchPosition({ eventId, userId: "u5" }));
    const farNext = pull(client.watchPosition({ eventId, userId: "u12" }));
    expect((await nearNext()).ticket?.position).toBe(5);
    expect((await farNext()).ticket?.position).toBe(12);
    // One Leave at a time, each seen by the near watcher before the next: the
    // far watcher's turn in the same walk has been decided by then.
    for (const [i, u] of ["u1", "u2", "u3", "u4"].entries()) {
      await client.leave({ eventId, userId: u });
      expect((await nearNext()).ticket?.position).toBe(4 - i);
    }
    const told: number[] = [];
    while (told.at(-1) !== 8) told.push((await farNext()).ticket?.position ?? -1);
    expect([12, ...told]).toEqual(far);
    await client.leave({ eventId, userId: "u12" });
    expect((await farNext()).ticket).toMatchObject({ state: TicketState.LEFT, position: 0 });
  });
});
