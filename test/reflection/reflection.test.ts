import { createFileRegistry, fromBinary, isFieldSet, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FieldDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { QueueService } from "../../gen/boxoffice/v1/queue_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createReflectionServices, reflectionServiceDescriptors } from "../../src/reflection/reflection-services.js";
import { converse } from "./conversation.js";

const QUEUE = "boxoffice/v1/queue.proto";
const VALIDATE = "buf/validate/validate.proto";
const TIMESTAMP = "google/protobuf/timestamp.proto";
const DESCRIPTOR = "google/protobuf/descriptor.proto";
const HEALTH = "grpc/health/v1/health.proto";

const mounted: DescService[] = [QueueService, Health, ...reflectionServiceDescriptors];

function transportFor(services: readonly DescService[]) {
  return createRouterTransport((router) => {
    for (const { service, impl } of createReflectionServices(services)) router.service(service, impl);
  });
}

function openV1(services: readonly DescService[] = mounted) {
  const client = createClient(v1.ServerReflection, transportFor(services));
  return converse((requests: AsyncIterable<v1.ServerReflectionRequest>) => client.serverReflectionInfo(requests));
}

function files(response: v1.ServerReflectionResponse): FileDescriptorProto[] {
  const { messageResponse } = response;
  if (messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${messageResponse.case}: ${JSON.stringify(messageResponse.value)}`);
  }
  return messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

const names = (response: v1.ServerReflectionResponse): string[] => files(response).map((f) => f.name);

function symbol(name: string, host = ""): v1.ServerReflectionRequest {
  return { $typeName: "grpc.reflection.v1.ServerReflectionRequest", host, messageRequest: { case: "fileContainingSymbol", value: name } };
}

function request(messageRequest: v1.ServerReflectionRequest["messageRequest"]): v1.ServerReflectionRequest {
  return { $typeName: "grpc.reflection.v1.ServerReflectionRequest", host: "", messageRequest };
}

describe("server reflection v1", () => {
  it("lists exactly the services it was given", async () => {
    const stream = openV1();
    const response = await stream.ask(request({ case: "listServices", value: "*" }));
    expect(response.messageResponse).toMatchObject({
      case: "listServicesResponse",
      value: { service: mounted.map((s) => ({ name: s.typeName })) },
    });
    await stream.close();

    const onlyQueue = openV1([QueueService]);
    const alone = await onlyQueue.ask(request({ case: "listServices", value: "" }));
    expect(alone.messageResponse.case === "listServicesResponse" && alone.messageResponse.value.service.map((s) => s.name)).toEqual([
      "boxoffice.v1.QueueService",
    ]);
    await onlyQueue.close();
  });

  it("sends the file of a service first, then every transitive import, each import before its importers", async () => {
    const stream = openV1();
    const response = await stream.ask(symbol("boxoffice.v1.QueueService", "example.test"));

    expect(response.validHost).toBe("example.test");
    expect(response.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "boxoffice.v1.QueueService" });
    const sent = names(response);
    expect(sent[0]).toBe(QUEUE);
    expect([...sent].sort()).toEqual([QUEUE, VALIDATE, DESCRIPTOR, TIMESTAMP].sort());
    expect(sent.indexOf(DESCRIPTOR)).toBeLessThan(sent.indexOf(VALIDATE));
    await stream.close();
  });

  it("does not resend files already sent on the stream, but always sends the requested one", async () => {
    const stream = openV1();
    expect(names(await stream.ask(symbol("google.protobuf.Timestamp")))).toEqual([TIMESTAMP]);
    // The queue file's imports minus the timestamp file, which went out above.
    const queue = names(await stream.ask(symbol("boxoffice.v1.QueueService")));
    expect(queue[0]).toBe(QUEUE);
    expect([...queue].sort()).toEqual([QUEUE, VALIDATE, DESCRIPTOR].sort());
    // Everything is known to the client by now: only the answer itself.
    expect(names(await stream.ask(symbol("boxoffice.v1.QueueService.Join")))).toEqual([QUEUE]);
    expect(names(await stream.ask(symbol("buf.validate.FieldRules")))).toEqual([VALIDATE]);
    await stream.close();

    // A new stream starts from nothing.
    const fresh = openV1();
    expect(names(await fresh.ask(symbol("boxoffice.v1.QueueService.Join")))).toHaveLength(4);
    await fresh.close();
  });

  it.each([
    ["a method", "boxoffice.v1.QueueService.WatchPosition", QUEUE],
    ["a message", "boxoffice.v1.JoinRequest", QUEUE],
    ["a field", "boxoffice.v1.JoinRequest.event_id", QUEUE],
    ["a synthetic oneof", "boxoffice.v1.ConfigureQueueRequest._admit_rate_per_sec", QUEUE],
    ["an enum", "boxoffice.v1.QueueState", QUEUE],
    ["an enum value in its protobuf scope", "boxoffice.v1.QUEUE_STATE_OPEN", QUEUE],
    ["an enum value inside its enum", "boxoffice.v1.QueueState.QUEUE_STATE_OPEN", QUEUE],
    ["a nested message", "grpc.health.v1.HealthListResponse.StatusesEntry", HEALTH],
    ["a nested enum", "grpc.health.v1.HealthCheckResponse.ServingStatus", HEALTH],
    ["a nested enum value", "grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", HEALTH],
    ["an extension", "buf.validate.field", VALIDATE],
    ["a type of an imported file", "google.protobuf.FieldOptions", DESCRIPTOR],
    ["a name with a leading dot", ".boxoffice.v1.JoinResponse", QUEUE],
    ["the reflection service itself", "grpc.reflection.v1alpha.ServerReflection", "grpc/reflection/v1alpha/reflection.proto"],
  ])("resolves %s (%s)", async (_, name, file) => {
    const stream = openV1();
    expect(names(await stream.ask(symbol(name)))[0]).toBe(file);
    await stream.close();
  });

  it("answers unknown names with NOT_FOUND inside the stream, which goes on", async () => {
    const stream = openV1();
    for (const messageRequest of [
      { case: "fileContainingSymbol", value: "boxoffice.v1.NoSuchThing" },
      { case: "fileContainingSymbol", value: "boxoffice.v1.QueueService.NoSuchMethod" },
      { case: "fileByFilename", value: "boxoffice/v1/missing.proto" },
      { case: "fileContainingExtension", value: { $typeName: "grpc.reflection.v1.ExtensionRequest", containingType: "google.protobuf.FieldOptions", extensionNumber: 4242 } },
      { case: "fileContainingExtension", value: { $typeName: "grpc.reflection.v1.ExtensionRequest", containingType: "no.such.Type", extensionNumber: 1159 } },
      { case: "allExtensionNumbersOfType", value: "no.such.Type" },
    ] as const) {
      const response = await stream.ask(request(messageRequest));
      expect(response.messageResponse.case).toBe("errorResponse");
      expect(response.messageResponse.value).toMatchObject({ errorCode: 5 });
      expect(response.originalRequest?.messageRequest).toEqual(messageRequest);
    }
    expect(names(await stream.ask(symbol("boxoffice.v1.QueueService")))[0]).toBe(QUEUE);
    await stream.close();
  });

  it("answers a request without a question with INVALID_ARGUMENT", async () => {
    const stream = openV1();
    const response = await stream.ask(request({ case: undefined }));
    expect(response.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: 3 } });
    await stream.close();
  });

  it("serves files by name with their imports", async () => {
    const stream = openV1();
    expect(names(await stream.ask(request({ case: "fileByFilename", value: VALIDATE })))).toEqual([VALIDATE, DESCRIPTOR]);
    expect(names(await stream.ask(request({ case: "fileByFilename", value: TIMESTAMP })))).toEqual([TIMESTAMP]);
    await stream.close();
  });

  it("answers extension questions from the registry", async () => {
    const stream = openV1();
    const byExtension = await stream.ask(
      request({
        case: "fileContainingExtension",
        value: { $typeName: "grpc.reflection.v1.ExtensionRequest", containingType: "google.protobuf.FieldOptions", extensionNumber: 1159 },
      }),
    );
    expect(names(byExtension)).toEqual([VALIDATE, DESCRIPTOR]);

    const numbers = await stream.ask(request({ case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" }));
    expect(numbers.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.FieldOptions", extensionNumber: [1159] },
    });

    const none = await stream.ask(request({ case: "allExtensionNumbersOfType", value: "boxoffice.v1.JoinRequest" }));
    expect(none.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "boxoffice.v1.JoinRequest", extensionNumber: [] },
    });
    await stream.close();
  });

  it("serves descriptors a strict client can link, with json names and options intact", async () => {
    const stream = openV1();
    const received = new Map(files(await stream.ask(symbol("boxoffice.v1.QueueService"))).map((f) => [f.name, f]));
    await stream.close();

    const queue = received.get(QUEUE);
    if (!queue) throw new Error("queue file missing");
    expect(queue.dependency).toEqual([VALIDATE, TIMESTAMP]);
    // Throws if any import is missing or any type reference dangles.
    const registry = createFileRegistry(queue, (name) => received.get(name));
    expect(registry.getService("boxoffice.v1.QueueService")?.methods.map((m) => m.name)).toContain("Join");
    expect(registry.getMessage("boxoffice.v1.QueueConfig")?.fields.find((f) => f.name === "opens_at")?.message?.typeName).toBe(
      "google.protobuf.Timestamp",
    );

    const eventId = queue.messageType.find((m) => m.name === "ConfigureQueueRequest")?.field.find((f) => f.name === "event_id");
    expect(eventId && isFieldSet(eventId, FieldDescriptorProtoSchema.field.jsonName)).toBe(true);
    expect(eventId?.jsonName).toBe("eventId");
    // The (buf.validate.field) option travels as an extension of FieldOptions.
    expect(eventId?.options?.$unknown?.map((u) => u.no)).toContain(1159);
  });
});

describe("server reflection v1alpha", () => {
  it("answers like v1, echoing the request in its own package", async () => {
    const client = createClient(v1alpha.ServerReflection, transportFor(mounted));
    const stream = converse((requests: AsyncIterable<v1alpha.ServerReflectionRequest>) => client.serverReflectionInfo(requests));
    const ask = (messageRequest: v1alpha.ServerReflectionRequest["messageRequest"]) =>
      stream.ask({ $typeName: "grpc.reflection.v1alpha.ServerReflectionRequest", host: "h", messageRequest });

    const list = await ask({ case: "listServices", value: "" });
    expect(list.$typeName).toBe("grpc.reflection.v1alpha.ServerReflectionResponse");
    expect(list.originalRequest?.$typeName).toBe("grpc.reflection.v1alpha.ServerReflectionRequest");
    expect(list.validHost).toBe("h");
    expect(list.messageResponse.case === "listServicesResponse" && list.messageResponse.value.service.map((s) => s.name)).toEqual(
      mounted.map((s) => s.typeName),
    );

    const first = await ask({ case: "fileContainingSymbol", value: "boxoffice.v1.QueueService" });
    const second = await ask({ case: "fileContainingSymbol", value: "boxoffice.v1.Ticket" });
    const count = (r: v1alpha.ServerReflectionResponse) =>
      r.messageResponse.case === "fileDescriptorResponse" ? r.messageResponse.value.fileDescriptorProto.length : -1;
    expect([count(first), count(second)]).toEqual([4, 1]);

    const missing = await ask({ case: "fileContainingSymbol", value: "nope.Nope" });
    expect(missing.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    await stream.close();
  });
});
