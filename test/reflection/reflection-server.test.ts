import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { createReflectionServices } from "../../src/reflection/reflection-services.js";
import { converse } from "./conversation.js";

/** Reflection over a real HTTP/2 port with a gRPC client: one long stream, then shutdown. */

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function start() {
  const shutdown = new AbortController();
  const registrations = createReflectionServices([QueueService]);
  const server = http2.createServer(
    connectNodeAdapter({
      routes: (router) => {
        for (const { service, impl } of registrations) router.service(service, impl);
      },
      shutdownSignal: shutdown.signal,
    }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });
  const { port } = server.address() as AddressInfo;
  const client = createClient(v1.ServerReflection, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const stream = converse((requests: AsyncIterable<v1.ServerReflectionRequest>) => client.serverReflectionInfo(requests));
  return { shutdown, stream };
}

function symbol(name: string): v1.ServerReflectionRequest {
  return { $typeName: "grpc.reflection.v1.ServerReflectionRequest", host: "", messageRequest: { case: "fileContainingSymbol", value: name } };
}

function fileNames(response: v1.ServerReflectionResponse): string[] {
  const { messageResponse } = response;
  if (messageResponse.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${messageResponse.case}`);
  return messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe("server reflection over gRPC", () => {
  it("answers several questions on one stream, each file once", async () => {
    const { stream } = await start();
    expect(fileNames(await stream.ask(symbol("boxoffice.v1.QueueService")))).toHaveLength(4);
    const missing = await stream.ask(symbol("boxoffice.v1.Missing"));
    expect(missing.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(fileNames(await stream.ask(symbol("google.protobuf.Timestamp")))).toEqual(["google/protobuf/timestamp.proto"]);
    await stream.close();
  });

  it("ends an idle stream with the shutdown reason", async () => {
    const { shutdown, stream } = await start();
    expect(fileNames(await stream.ask(symbol("boxoffice.v1.QueueService")))[0]).toBe("boxoffice/v1/queue.proto");

    // The client keeps the stream open and says nothing more.
    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    const error = await stream.listen().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unavailable);
  });
});
