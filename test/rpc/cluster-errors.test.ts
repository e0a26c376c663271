import { Code, type HandlerContext } from "@connectrpc/connect";
import { ReplyError } from "ioredis";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { FunctionUnavailableError } from "../../src/redis/script-loader.js";
import { mapError } from "../../src/rpc/policy.js";

const ctx = { signal: new AbortController().signal } as HandlerContext;
const log = () => pino({ level: "silent" });

describe("errors of a Redis Cluster client", () => {
  it.each([
    ["a redirection handed back", new ReplyError("MOVED 3999 127.0.0.1:7002") as Error],
    ["an import in progress", new ReplyError("ASK 3999 127.0.0.1:7002") as Error],
    ["a cluster without a majority", new ReplyError("CLUSTERDOWN The cluster is down") as Error],
    ["a client without a slot table", new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    ["redirections that never settle", new Error("Too many Cluster redirections. Last error: Error: Connection is closed.")],
    ["no seed node answering", Object.assign(new Error("Failed to refresh slots cache."), { name: "ClusterAllFailedError" })],
    ["a library load with no primary known", new Error("Cluster has no known primary")],
  ])("maps %s to UNAVAILABLE, not INTERNAL", (_, err) => {
    const mapped = mapError(err, ctx, log);
    expect(mapped.code).toBe(Code.Unavailable);
    expect(mapped.findDetails(ErrorInfoSchema)[0]?.reason).toBe("BACKEND_UNAVAILABLE");
  });

  it.each([
    ["TRYAGAIN until ioredis gives up", new Error("Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot"), "NOT_APPLIED"],
    ["redirections ending in MOVED", new Error("Too many Cluster redirections. Last error: ReplyError: MOVED 6739 127.0.0.1:7002"), "NOT_APPLIED"],
    ["redirections ending in a lost connection", new Error("Too many Cluster redirections. Last error: Error: Connection is closed."), "UNKNOWN"],
    ["a TRYAGAIN handed back", new ReplyError("TRYAGAIN Multiple keys request during rehashing of slot") as Error, "NOT_APPLIED"],
    ["a function missing on the node importing the slot", new FunctionUnavailableError("getPosition_0", new Error("ERR Function not found")), "NOT_APPLIED"],
    ["a connection a slot table refresh closed", new Error("Connection is closed."), "UNKNOWN"],
    ["the rest of a pipeline whose connection closed half-answered", Object.assign(new Error("Command aborted due to connection close"), { name: "AbortError" }), "UNKNOWN"],
    ["a WAIT unblocked because its primary became a replica", new ReplyError("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)") as Error, "UNKNOWN"],
    ["a write refused at maxmemory", new ReplyError("OOM command not allowed when used memory > 'maxmemory'.") as Error, "NOT_APPLIED"],
    ["a write refused while snapshots fail", new ReplyError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.") as Error, "NOT_APPLIED"],
    ["a call refused while a script runs too long", new ReplyError("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.") as Error, "NOT_APPLIED"],
  ])("says whether %s ran: %s", (_, err, outcome) => {
    const mapped = mapError(err, ctx, log);
    expect(mapped.code).toBe(Code.Unavailable);
    expect(mapped.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "BACKEND_UNAVAILABLE", metadata: { outcome } });
  });

  it("keeps a script error INTERNAL", () => {
    expect(mapError(new ReplyError("ERR user_script:1: Script attempted to access a non local key") as Error, ctx, log).code).toBe(Code.Internal);
  });

  it("keeps an abort that is no Redis failure INTERNAL", () => {
    expect(mapError(new DOMException("This operation was aborted", "AbortError"), ctx, log).code).toBe(Code.Internal);
  });
});
