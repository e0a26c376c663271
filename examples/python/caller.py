"""Boxoffice from Python with grpcio, without generated code.

The package ships the contract twice: as .proto files (for protoc / grpc_tools
/ buf generate in any language) and as one binary FileDescriptorSet,
proto/boxoffice.binpb, which any protobuf runtime loads as it is. This caller
uses the latter, so it works with grpcio alone, even where the installed
protoc is too old for proto3 `optional`.

    python3 caller.py node_modules/@boxoffice/client/proto 127.0.0.1:8080

Prints one JSON line: what the calls returned.
"""

import json
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def load_messages(proto_dir):
    with open(f"{proto_dir}/boxoffice.binpb", "rb") as f:
        files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:  # dependencies come first
        pool.Add(file)

    def message(name):
        descriptor = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)

    return message


def main(proto_dir, target):
    message = load_messages(proto_dir)
    channel = grpc.insecure_channel(target)

    def method(service, name, request, response, streaming=False):
        call = channel.unary_stream if streaming else channel.unary_unary
        return call(
            f"/boxoffice.v1.{service}/{name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message(f"boxoffice.v1.{response}").FromString,
        ), message(f"boxoffice.v1.{request}")

    configure, ConfigureQueueRequest = method("QueueService", "ConfigureQueue", "ConfigureQueueRequest", "ConfigureQueueResponse")
    join, JoinRequest = method("QueueService", "Join", "JoinRequest", "JoinResponse")
    watch, WatchPositionRequest = method("QueueService", "WatchPosition", "WatchPositionRequest", "WatchPositionResponse", streaming=True)
    leave, LeaveRequest = method("QueueService", "Leave", "LeaveRequest", "LeaveResponse")
    queue_state = message("boxoffice.v1.QueueConfig").DESCRIPTOR.fields_by_name["state"].enum_type
    ticket_state = message("boxoffice.v1.Ticket").DESCRIPTOR.fields_by_name["state"].enum_type

    event_id = f"python-{time.time_ns()}"
    # Paused: joins are accepted, nobody is admitted, so the user waits until leaving.
    configure(ConfigureQueueRequest(event_id=event_id, state=queue_state.values_by_name["QUEUE_STATE_PAUSED"].number), timeout=5)
    joined = join(JoinRequest(event_id=event_id, user_id="dave"), timeout=5)
    states = []
    for update in watch(WatchPositionRequest(event_id=event_id, user_id="dave"), timeout=10):
        states.append(ticket_state.values_by_number[update.ticket.state].name)
        if len(states) == 1:
            leave(LeaveRequest(event_id=event_id, user_id="dave"), timeout=5)

    # A refusal: the reason is in google.rpc.ErrorInfo inside grpc-status-details-bin.
    error = {}
    try:
        join(JoinRequest(event_id=f"{event_id}-missing", user_id="dave"), timeout=5)
    except grpc.RpcError as err:
        status = message("google.rpc.Status")()
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status.ParseFromString(value)
        for detail in status.details:
            info = message("google.rpc.ErrorInfo")()
            if detail.Unpack(info):
                error = {"code": err.code().name, "reason": info.reason, "domain": info.domain}
    channel.close()
    return {"newly_joined": joined.newly_joined, "position": joined.ticket.position, "states": states, "error": error}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
