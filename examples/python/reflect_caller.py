"""Boxoffice from Python with grpcio and nothing but the server's address.

The contract comes from the server itself, over gRPC server reflection
(grpc.reflection.v1): no .proto files, no descriptor set, no generated code
and no grpcio-reflection package. The reflection messages are tiny, so they
are described here by hand; everything else is built from the
FileDescriptorProtos the server sends.

    python3 reflect_caller.py 127.0.0.1:8080

Prints one JSON line: the services listed, the positions and the final state
of a ticket watched until admitted, and the code and reason of a refused call.
"""

import json
import queue
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REFLECTION_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
F = descriptor_pb2.FieldDescriptorProto


def field(name, number, kind, label=F.LABEL_OPTIONAL, type_name=None, oneof=None):
    """One FieldDescriptorProto, as a dict for descriptor_pb2."""
    spec = {"name": name, "number": number, "type": kind, "label": label}
    if type_name is not None:
        spec["type_name"] = type_name
    if oneof is not None:
        spec["oneof_index"] = oneof
    return spec


def message_type(name, fields, oneofs=()):
    return descriptor_pb2.DescriptorProto(
        name=name,
        field=[F(**spec) for spec in fields],
        oneof_decl=[descriptor_pb2.OneofDescriptorProto(name=o) for o in oneofs],
    )


def reflection_file():
    """The part of grpc/reflection/v1/reflection.proto this caller speaks."""
    p = ".grpc.reflection.v1."
    return descriptor_pb2.FileDescriptorProto(
        name="grpc/reflection/v1/reflection.proto",
        package="grpc.reflection.v1",
        syntax="proto3",
        message_type=[
            message_type(
                "ServerReflectionRequest",
                [
                    field("host", 1, F.TYPE_STRING),
                    field("file_by_filename", 3, F.TYPE_STRING, oneof=0),
                    field("file_containing_symbol", 4, F.TYPE_STRING, oneof=0),
                    field("list_services", 7, F.TYPE_STRING, oneof=0),
                ],
                oneofs=["message_request"],
            ),
            message_type(
                "ServerReflectionResponse",
                [
                    field("valid_host", 1, F.TYPE_STRING),
                    field("original_request", 2, F.TYPE_MESSAGE, type_name=p + "ServerReflectionRequest"),
                    field("file_descriptor_response", 4, F.TYPE_MESSAGE, type_name=p + "FileDescriptorResponse", oneof=0),
                    field("list_services_response", 6, F.TYPE_MESSAGE, type_name=p + "ListServiceResponse", oneof=0),
                    field("error_response", 7, F.TYPE_MESSAGE, type_name=p + "ErrorResponse", oneof=0),
                ],
                oneofs=["message_response"],
            ),
            message_type("FileDescriptorResponse", [field("file_descriptor_proto", 1, F.TYPE_BYTES, F.LABEL_REPEATED)]),
            message_type("ListServiceResponse", [field("service", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, p + "ServiceResponse")]),
            message_type("ServiceResponse", [field("name", 1, F.TYPE_STRING)]),
            message_type("ErrorResponse", [field("error_code", 1, F.TYPE_INT32), field("error_message", 2, F.TYPE_STRING)]),
        ],
    )


def any_file():
    """google/protobuf/any.proto, for a server that does not serve it."""
    return descriptor_pb2.FileDescriptorProto(
        name="google/protobuf/any.proto",
        package="google.protobuf",
        syntax="proto3",
        message_type=[message_type("Any", [field("type_url", 1, F.TYPE_STRING), field("value", 2, F.TYPE_BYTES)])],
    )


def status_file():
    """google/rpc/status.proto, for a server that does not serve it."""
    return descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
        message_type=[
            message_type(
                "Status",
                [
                    field("code", 1, F.TYPE_INT32),
                    field("message", 2, F.TYPE_STRING),
                    field("details", 3, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".google.protobuf.Any"),
                ],
            )
        ],
    )


def class_of(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


class Reflection:
    """One ServerReflectionInfo stream: one request, then its answer, in turn."""

    def __init__(self, channel):
        pool = descriptor_pool.DescriptorPool()
        pool.Add(reflection_file())
        self.Request = class_of(pool, "grpc.reflection.v1.ServerReflectionRequest")
        Response = class_of(pool, "grpc.reflection.v1.ServerReflectionResponse")
        self.outbox = queue.Queue()
        stream = channel.stream_stream(
            REFLECTION_METHOD,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=Response.FromString,
        )
        self.call = stream(iter(self.outbox.get, None), timeout=30)
        # FileDescriptorProtos received on this stream, by file name (the server sends each file once per stream).
        self.files = {}

    def ask(self, **request):
        self.outbox.put(self.Request(**request))
        return next(self.call)

    def list_services(self):
        answer = self.ask(list_services="")
        if answer.WhichOneof("message_response") != "list_services_response":
            raise RuntimeError(f"list_services: {answer.error_response.error_message}")
        return [s.name for s in answer.list_services_response.service]

    def fetch(self, **request):
        """Asks for a file (and its imports); False if the server does not know it."""
        answer = self.ask(**request)
        if answer.WhichOneof("message_response") != "file_descriptor_response":
            return False
        for raw in answer.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files.setdefault(file.name, file)
        return True

    def close(self):
        self.outbox.put(None)
        for _ in self.call:  # the server ends the stream once the requests end
            pass


def dependencies_first(files):
    """The files, each after every file it imports (depth-first over `dependency`)."""
    ordered, done, visiting = [], set(), set()

    def visit(name):
        if name in done:
            return
        if name in visiting:
            raise RuntimeError(f"import cycle through {name}")
        if name not in files:
            raise RuntimeError(f"the server sent no {name}")
        visiting.add(name)
        for dependency in files[name].dependency:
            visit(dependency)
        visiting.discard(name)
        done.add(name)
        ordered.append(files[name])

    for name in sorted(files):
        visit(name)
    return ordered


def discover(target):
    """The services listed and a pool holding everything this caller uses, all from reflection."""
    channel = grpc.insecure_channel(target)
    reflection = Reflection(channel)
    try:
        services = reflection.list_services()
        if not reflection.fetch(file_containing_symbol="boxoffice.v1.QueueService"):
            raise RuntimeError("the server does not describe boxoffice.v1.QueueService")
        if not reflection.fetch(file_containing_symbol="google.rpc.ErrorInfo"):
            raise RuntimeError("the server does not describe google.rpc.ErrorInfo")
        status_served = reflection.fetch(file_containing_symbol="google.rpc.Status")
        if not status_served:
            if "google/protobuf/any.proto" not in reflection.files and not reflection.fetch(file_by_filename="google/protobuf/any.proto"):
                reflection.files["google/protobuf/any.proto"] = any_file()
            reflection.files["google/rpc/status.proto"] = status_file()
    finally:
        reflection.close()
        channel.close()
    pool = descriptor_pool.DescriptorPool()
    for file in dependencies_first(reflection.files):
        pool.Add(file)
    return services, status_served, pool


def main(target):
    services, status_served, pool = discover(target)
    message = lambda name: class_of(pool, name)  # noqa: E731
    channel = grpc.insecure_channel(target)

    def method(service, name):
        descriptor = pool.FindServiceByName(f"boxoffice.v1.{service}").methods_by_name[name]
        call = channel.unary_stream if descriptor.server_streaming else channel.unary_unary
        Request = message(descriptor.input_type.full_name)
        Response = message(descriptor.output_type.full_name)
        stub = call(
            f"/{descriptor.containing_service.full_name}/{descriptor.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=Response.FromString,
        )
        return stub, Request

    configure, ConfigureQueueRequest = method("QueueService", "ConfigureQueue")
    join, JoinRequest = method("QueueService", "Join")
    watch, WatchPositionRequest = method("QueueService", "WatchPosition")
    ticket_state = message("boxoffice.v1.Ticket").DESCRIPTOR.fields_by_name["state"].enum_type

    event_id = f"python-reflect-{time.time_ns()}"
    configure(ConfigureQueueRequest(event_id=event_id, admit_rate_per_sec=1000), timeout=10)
    joined = join(JoinRequest(event_id=event_id, user_id="erin"), timeout=10)
    positions, final_state = [joined.ticket.position], None
    for update in watch(WatchPositionRequest(event_id=event_id, user_id="erin"), timeout=20):
        positions.append(update.ticket.position)
        final_state = ticket_state.values_by_number[update.ticket.state].name
        if final_state != "TICKET_STATE_WAITING":
            break

    # A refusal: google.rpc.Status in grpc-status-details-bin, an ErrorInfo among its details.
    error = {}
    Status, ErrorInfo = message("google.rpc.Status"), message("google.rpc.ErrorInfo")
    try:
        join(JoinRequest(event_id=f"{event_id}-missing", user_id="erin"), timeout=10)
    except grpc.RpcError as err:
        error = {"code": err.code().value[0], "code_name": err.code().name}
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = Status.FromString(value)
                error["status_code"] = status.code
                for detail in status.details:
                    if detail.type_url.rsplit("/", 1)[-1] == "google.rpc.ErrorInfo":
                        info = ErrorInfo.FromString(detail.value)
                        error.update(reason=info.reason, domain=info.domain)
    channel.close()
    return {
        "services": services,
        "status_served": status_served,
        "newly_joined": joined.newly_joined,
        "positions": positions,
        "final_state": final_state,
        "error": error,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: reflect_caller.py HOST:PORT")
    print(json.dumps(main(sys.argv[1])))
