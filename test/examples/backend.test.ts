import { afterAll, beforeAll, expect, it } from "vitest";
import { TicketState, createBoxofficeClient } from "../../src/client/index.js";
import { main } from "../../examples/backend.js";
import { startServer, type RunningServer } from "../e2e/server.js";

const PASS_KEYS = `k1:${"example-secret-".repeat(3)}`;

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ PASS_KEYS, ADMIT_INTERVAL_MS: "20" });
});
afterAll(async () => {
  await server?.stop();
});

it("runs the backend example end to end: admitted, pass valid, seats sold, a refusal read by its reason", async () => {
  const lines: string[] = [];
  const result = await main(server.grpcUrl, PASS_KEYS, (line) => lines.push(line));
  expect(result).toMatchObject({ finalState: TicketState.ADMITTED, passCheck: "valid" });
  expect(result.heldSeats).toHaveLength(2);
  expect(result.refusal).toEqual({ reason: "SEAT_UNAVAILABLE", seatIds: result.heldSeats.join(",") });
  expect(lines.some((line) => line.startsWith("alice: ADMITTED"))).toBe(true);
  // The billing worker saw alice's admission, then her sale, in stream order (bob was admitted after it).
  expect(result.feedSeen.slice(0, 2)).toEqual(["queue.admitted", "seat.confirmed"]);
  // The sale is really recorded: two of three seats sold.
  const { seats } = createBoxofficeClient(server.transports["grpc-port/grpc"]);
  const availability = await seats.getAvailability({ eventId: result.eventId });
  expect(availability.availability?.sections[0]?.counts).toMatchObject({ sold: 2, available: 1 });
});
