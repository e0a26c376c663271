"""Makes unary calls with Python grpcio (the C-core client, default limits) on
one channel, in order, and prints one JSON line per call.

Usage: grpcio_calls.py HOST:PORT METHOD_PATH:HEX_REQUEST ...

Exits 3 with a message when grpcio is not installed, so the calling test can
say what is missing instead of failing obscurely.
"""
import base64
import json
import sys

try:
    import grpc
except ImportError as err:
    sys.stderr.write("python grpcio is not installed (apt-get install python3-grpcio): %s\n" % err)
    sys.exit(3)


def main():
    target = sys.argv[1]
    with grpc.insecure_channel(target) as channel:
        for spec in sys.argv[2:]:
            path, hex_request = spec.rsplit(":", 1)
            call = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
            try:
                _, rpc = call.with_call(bytes.fromhex(hex_request), timeout=20)
                code, details, trailers = rpc.code(), rpc.details(), rpc.trailing_metadata()
            except grpc.RpcError as err:
                code, details, trailers = err.code(), err.details(), err.trailing_metadata()
            status_bin = b""
            size = 0
            for key, value in trailers or ():
                size += len(key) + len(value)
                if key == "grpc-status-details-bin":
                    status_bin = value
            print(json.dumps({
                "code": code.name,
                "details": details,
                "trailerBytes": size,
                "statusDetailsBin": base64.b64encode(status_bin).decode("ascii"),
            }), flush=True)


main()
