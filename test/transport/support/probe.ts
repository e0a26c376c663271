import { createFileRegistry, create, type DescService } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  StringValueSchema,
  file_google_protobuf_wrappers,
  type StringValue,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "../../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { registration, type ServiceRegistration } from "../../../src/rpc/registration.js";

/** A promise with its resolver exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** What a test observes of one call inside the implementation. */
export interface CallTrace {
  /** Resolves with the handler context once the implementation runs. */
  readonly started: Deferred<HandlerContext>;
  /** Resolves in the implementation's `finally` with `ctx.signal.reason` (undefined if never aborted). */
  readonly ended: Deferred<unknown>;
  /** Resolve to let a "slow" unary call answer. */
  readonly release: Deferred<void>;
}

/**
 * Test services whose behaviour is chosen by the request: Health's `service`
 * field is `<behaviour>:<id>`, and the id names a trace the test awaits.
 */
export class Probe {
  private readonly traces = new Map<string, CallTrace>();

  trace(id: string): CallTrace {
    let trace = this.traces.get(id);
    if (trace === undefined) {
      trace = { started: deferred(), ended: deferred(), release: deferred() };
      this.traces.set(id, trace);
    }
    return trace;
  }

  registrations(): ServiceRegistration[] {
    return [
      registration(Health, this.health()),
      registration(ServerReflection, this.reflection()),
      registration(Tally, this.tally()),
    ];
  }

  private health(): ServiceImpl<typeof Health> {
    const probe = this;
    return {
      async check(req, ctx) {
        const [behaviour = "", id = ""] = req.service.split(":");
        const trace = probe.trace(id);
        trace.started.resolve(ctx);
        try {
          switch (behaviour) {
            case "ok":
              return { status: ServingStatus.SERVING };
            case "headers":
              ctx.responseHeader.set("x-echo", ctx.requestHeader.get("x-probe") ?? "(none)");
              ctx.responseHeader.set("x-echo-bin", ctx.requestHeader.get("x-probe-bin") ?? "");
              ctx.responseTrailer.set("x-trailer", "done");
              return { status: ServingStatus.SERVING };
            case "error":
              throw new ConnectError("sold out", Code.FailedPrecondition, { "x-error-meta": "present" }, [
                {
                  desc: ErrorInfoSchema,
                  value: { reason: "SOLD_OUT", domain: "boxoffice.v1", metadata: { eventId: "e-1" } },
                },
              ]);
            case "bug":
              throw new Error("secret internals");
            case "hang":
              return await untilAborted(ctx.signal);
            case "slow":
              await trace.release.promise;
              return { status: ServingStatus.NOT_SERVING };
            default:
              throw new ConnectError(`unknown behaviour ${behaviour}`, Code.InvalidArgument);
          }
        } finally {
          trace.ended.resolve(ctx.signal.aborted ? ctx.signal.reason : undefined);
        }
      },
      async *watch(req, ctx) {
        const [behaviour = "", arg = ""] = req.service.split(":");
        const trace = probe.trace(arg);
        trace.started.resolve(ctx);
        try {
          if (behaviour === "count") {
            for (let i = 0; i < Number(arg); i++) {
              yield { status: i % 2 === 0 ? ServingStatus.SERVING : ServingStatus.NOT_SERVING };
            }
            return;
          }
          // "forever": the current state, then nothing until the call ends.
          ctx.responseHeader.set("x-stream", "open");
          yield { status: ServingStatus.SERVING };
          await untilAborted(ctx.signal);
        } finally {
          trace.ended.resolve(ctx.signal.aborted ? ctx.signal.reason : undefined);
        }
      },
      async list() {
        return { statuses: {} };
      },
    };
  }

  /** Answers each request as it arrives, echoing its `host`; proves responses are not held until half-close. */
  private reflection(): ServiceImpl<typeof ServerReflection> {
    return {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield { validHost: `echo:${req.host}`, originalRequest: req };
        }
      },
    };
  }

  /** Client streaming: joins every string it receives. */
  private tally(): ServiceImpl<typeof Tally> {
    return {
      async join(requests) {
        const parts: string[] = [];
        for await (const req of requests) parts.push(req.value);
        return { value: parts.join(",") };
      },
    };
  }
}

/** Waits for the signal, then rethrows its reason, as streaming implementations do. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/**
 * A client-streaming service built at run time from a descriptor (neither
 * Health nor reflection has a client-streaming method).
 */
export const Tally = buildTally();

function buildTally(): GenService<{
  join: { methodKind: "client_streaming"; input: typeof StringValueSchema; output: typeof StringValueSchema };
}> {
  const file = create(FileDescriptorProtoSchema, {
    name: "transport_test/tally.proto",
    package: "transport.test.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "Tally",
        method: [
          {
            name: "Join",
            inputType: ".google.protobuf.StringValue",
            outputType: ".google.protobuf.StringValue",
            clientStreaming: true,
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) =>
    name === file_google_protobuf_wrappers.proto.name ? file_google_protobuf_wrappers : undefined,
  );
  const service: DescService | undefined = registry.getService("transport.test.v1.Tally");
  if (service === undefined) throw new Error("Tally descriptor did not build");
  return service as never;
}

/** A queue the test pushes into and a client reads as its request stream. */
export function requestQueue<T>(): { push(value: T): void; end(): void; iterable: AsyncIterable<T> } {
  const values: T[] = [];
  let waiting: Deferred<void> | undefined;
  let ended = false;
  return {
    push(value) {
      values.push(value);
      waiting?.resolve();
    },
    end() {
      ended = true;
      waiting?.resolve();
    },
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = values.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (ended) return;
          waiting = deferred();
          await waiting.promise;
          waiting = undefined;
        }
      },
    },
  };
}

export type { HealthCheckResponse, StringValue };
export { ServingStatus };
