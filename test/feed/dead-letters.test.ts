import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChangeFeedService, SubscribeStart } from "../../gen/boxoffice/v1/feed_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { uniqueId } from "../support/redis.js";
import type { RunningServer } from "../e2e/server.js";
import { appendJoins, startFeedServer, Subscriber, type FeedClient } from "./support.js";

const VISIBILITY_MS = 10_000;
let server: RunningServer;
let feed: FeedClient;
beforeAll(async () => {
  server = await startFeedServer({ FEED_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS), FEED_MAX_DELIVERIES: "1" });
  feed = server.client(ChangeFeedService);
});
afterAll(async () => {
  await server?.stop();
});

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe("dead letters", () => {
  it("pages through them oldest first and replays them all, in order, to the group", async () => {
    const eventId = uniqueId();
    const ids = await appendJoins(server, eventId, 5);
    const sub = new Subscriber(feed, { eventId, group: "g", consumer: "c", start: SubscribeStart.BEGINNING });
    onTestFinished(() => sub.cancel());
    await sub.take(5);
    server.advance(VISIBILITY_MS);
    while ((await feed.listDeadLetters({ eventId, group: "g" })).total < 5n) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    const seen: string[] = [];
    let pageToken = "";
    const sizes: number[] = [];
    do {
      const page = await feed.listDeadLetters({ eventId, group: "g", pageSize: 2, pageToken });
      expect(page.total).toBe(5n);
      sizes.push(page.deadLetters.length);
      seen.push(...page.deadLetters.map((d) => d.event?.id ?? ""));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(ids);

    expect((await feed.replayDeadLetters({ eventId, group: "g", all: true })).replayed).toBe(5);
    expect((await feed.listDeadLetters({ eventId, group: "g" })).total).toBe(0n);
    const replays = await sub.take(5);
    expect(replays.map((e) => e.replayedFromId)).toEqual(ids);
    expect(replays.every((e) => e.deliveryCount === 1 && /^0-\d+$/.test(e.id))).toBe(true);
    expect((await feed.replayDeadLetters({ eventId, group: "g", all: true })).replayed).toBe(0);
  });

  it("needs ids or all, not both", async () => {
    const none = await failure(feed.replayDeadLetters({ eventId: uniqueId(), group: "g" }));
    expect(none.code).toBe(Code.InvalidArgument);
    expect(none.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["ids"]);
    const both = await failure(feed.replayDeadLetters({ eventId: uniqueId(), group: "g", ids: ["1-1"], all: true }));
    expect(both.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["all"]);
    const token = await failure(feed.listDeadLetters({ eventId: uniqueId(), group: "g", pageToken: "next" }));
    expect(token.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["page_token"]);
  });

  it("says NOT_FOUND with GROUP_NOT_FOUND for a group that never subscribed", async () => {
    for (const call of [
      feed.listDeadLetters({ eventId: uniqueId(), group: "ghost" }),
      feed.replayDeadLetters({ eventId: uniqueId(), group: "ghost", all: true }),
    ]) {
      const err = await failure(call);
      expect(err.code).toBe(Code.NotFound);
      expect(err.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "GROUP_NOT_FOUND", domain: "boxoffice.v1", metadata: { group: "ghost" } });
    }
  });
});
