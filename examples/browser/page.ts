/**
 * A web page calling Boxoffice's Connect port directly, with connect-web:
 * join a queue and watch the place until admitted, then read an error's
 * reason. The service must list the page's origin in `CORS_ORIGINS`.
 *
 * Bundle it for the browser (any bundler; with esbuild:
 * `esbuild page.ts --bundle --format=esm --outfile=page.js`) and open it as
 * `page.html?baseUrl=http://127.0.0.1:8081&eventId=demo&userId=alice`
 * (add `&protocol=grpc-web` for gRPC-Web). The outcome is written to
 * `#result` as JSON.
 */
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Reason, TicketState, createBoxofficeClient, reasonOf, watchPosition } from "@boxoffice/client";

export interface PageResult {
  readonly ok: boolean;
  readonly protocol?: string;
  readonly newlyJoined?: boolean;
  /** Each ticket state the page saw, in order. */
  readonly states?: readonly string[];
  readonly hasPass?: boolean;
  /** The reason of joining an event that does not exist. */
  readonly missingEventReason?: string;
  readonly error?: string;
}

async function run(params: URLSearchParams): Promise<PageResult> {
  const baseUrl = params.get("baseUrl") ?? "http://127.0.0.1:8081";
  const eventId = params.get("eventId") ?? "demo";
  const userId = params.get("userId") ?? "browser-user";
  const protocol = params.get("protocol") === "grpc-web" ? "grpc-web" : "connect";
  const transport = protocol === "grpc-web" ? createGrpcWebTransport({ baseUrl }) : createConnectTransport({ baseUrl });
  const { queue } = createBoxofficeClient(transport);

  const { newlyJoined } = await queue.join({ eventId, userId });
  const states: string[] = [];
  let hasPass = false;
  for await (const ticket of watchPosition({ eventId, userId, transports: transport })) {
    states.push(TicketState[ticket.state]);
    hasPass = (ticket.pass?.token ?? "") !== "";
  }
  const missing = await queue.join({ eventId: `${eventId}-missing`, userId }).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { ok: true, protocol, newlyJoined, states, hasPass, missingEventReason: Reason[reasonOf(missing)] };
}

function show(result: PageResult): void {
  const element = document.getElementById("result") ?? document.body.appendChild(document.createElement("pre"));
  element.textContent = JSON.stringify(result);
  element.setAttribute("data-done", "true");
}

run(new URLSearchParams(location.search)).then(show, (err: unknown) => show({ ok: false, error: String(err) }));
