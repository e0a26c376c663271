import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticator.js";
import { requirementOf } from "../auth/roles.js";
import { authorize } from "./authorize.js";
import type { RpcObserver, Transport } from "../observe/rpc-observer.js";
import { CallLog, type CallLogOptions } from "./call-log.js";
import { hookedStream, type StreamHooks } from "./hooked-stream.js";
import { backendUnavailable, boundError, invalidRequest } from "./errors.js";
import { redisFailure } from "./redis-failure.js";
import { wrapMethods, type AnyMethodImpl, type ServiceRegistration } from "./registration.js";
import { scopedStream } from "./scoped-stream.js";

export interface CallPolicyDeps {
  readonly logger: Logger;
  readonly validator: Validator;
  /** Checks callers' bearer tokens; undefined is development mode: every method is open to everyone. */
  readonly authenticator?: Authenticator;
  /** With an authenticator: serve reflection without credentials. Default true. */
  readonly openReflection?: boolean;
  /** Write each call's completion line at `info` (true) rather than `debug`. Default false. */
  readonly logCalls?: boolean;
  /**
   * Sees every call start and complete (metrics, tracing), with the port it
   * came in on: the composition root wraps the services once per port, so the
   * transport is known here without a look at the call. Default: nothing
   * observes.
   */
  readonly observe?: { readonly observer: RpcObserver; readonly transport: Transport } | undefined;
}

type AnyFn = AnyMethodImpl;

/**
 * Wraps every method of a service once, for both transports. Per call, in
 * this order: the request id (echoed as `x-request-id`), the credential
 * check (see `src/auth/roles.ts` for who may call what), protovalidate
 * validation, the implementation, and error mapping; nothing reaches the
 * implementation, and so Redis, before the first three pass. Expected
 * failures are `ConnectError`s raised by the implementation (cut to
 * `ERROR_BOUNDS`); a Redis outage becomes UNAVAILABLE; anything else is logged as a bug and returned as
 * INTERNAL without its message. Each call ends with one completion line (see
 * `CallLog`), which is also where an observer (tracing, metrics) learns how
 * it ended.
 */
export function withCallPolicy(reg: ServiceRegistration, deps: CallPolicyDeps): ServiceRegistration {
  return wrapMethods(reg, (method, fn) => wrapMethod(reg.service, method, fn, deps));
}

function wrapMethod(service: DescService, method: DescMethod, fn: AnyFn, deps: CallPolicyDeps): AnyFn {
  const logOptions: CallLogOptions = {
    logger: deps.logger,
    service: service.typeName,
    method: method.name,
    level: deps.logCalls === true ? "info" : "debug",
    observer: deps.observe?.observer.forMethod({
      service: service.typeName,
      method: method.name,
      kind: method.methodKind,
      transport: deps.observe.transport,
    }),
  };
  const authenticator = deps.authenticator;
  const required = authenticator && requirementOf(service.typeName, method.name, { openReflection: deps.openReflection ?? true });
  /** Admission of one call: credentials, then the request itself. */
  const admit = (ctx: HandlerContext, request: unknown): void => {
    if (authenticator !== undefined && required !== undefined && required !== "open") {
      const denied = authorize(authenticator, required, ctx.requestHeader.get("authorization"));
      if (denied !== undefined) {
        throw denied;
      }
    }
    if (request !== undefined) {
      validate(deps.validator, method.input, request);
    }
  };
  switch (method.methodKind) {
    case "unary":
      return async (request, ctx) => {
        const log = new CallLog(logOptions, ctx);
        try {
          log.observation?.received?.();
          log.about(request);
          admit(ctx, request);
          const response = await log.within(fn, request, ctx);
          log.observation?.sent?.();
          log.done();
          return response;
        } catch (err) {
          throw log.done(mapError(err, ctx, () => log.logger()));
        }
      };
    case "server_streaming":
      return (request, ctx) => {
        const log = new CallLog(logOptions, ctx);
        return hookedStream(() => {
          log.observation?.received?.();
          log.about(request);
          admit(ctx, request);
          const responses = log.within(fn, request, ctx) as AsyncIterable<unknown>;
          // Only a tracing observer keeps a context each step must run in.
          return log.scoped ? scopedStream(log, responses) : responses;
        }, new LoggedStream(log, ctx));
      };
    case "client_streaming":
    case "bidi_streaming":
      return async function* (requests, ctx) {
        const log = new CallLog(logOptions, ctx);
        const checked = (async function* () {
          for await (const message of requests as AsyncIterable<unknown>) {
            log.observation?.received?.();
            validate(deps.validator, method.input, message);
            yield message;
          }
        })();
        try {
          admit(ctx, undefined);
          const result = log.within(fn, checked, ctx);
          if (method.methodKind === "client_streaming") {
            const response = await result;
            log.observation?.sent?.();
            log.done();
            return response;
          }
          yield* observedStream(log, result as AsyncIterable<unknown>);
          log.done();
        } catch (err) {
          throw log.done(mapError(err, ctx, () => log.logger()));
        } finally {
          log.abandoned(ctx);
        }
      };
  }
}

/**
 * The policy's side of one server stream: each message counted as sent, one
 * completion line however it ends. A class rather than closures: an open
 * stream keeps its hooks for its whole life.
 */
class LoggedStream implements StreamHooks {
  readonly #log: CallLog;
  readonly #ctx: HandlerContext;

  constructor(log: CallLog, ctx: HandlerContext) {
    this.#log = log;
    this.#ctx = ctx;
  }

  message(): void {
    this.#log.observation?.sent?.();
  }

  done(): void {
    this.#log.done();
  }

  failed(err: unknown): unknown {
    return this.#log.done(mapError(err, this.#ctx, () => this.#log.logger()));
  }

  finally(): void {
    this.#log.abandoned(this.#ctx);
  }
}

/**
 * A stream's responses as its observer, if any, wants them: each step run in
 * the call's context when the observer keeps one, each message counted as
 * sent as it is handed to the transport.
 */
function observedStream(log: CallLog, responses: AsyncIterable<unknown>): AsyncIterable<unknown> {
  const observation = log.observation;
  if (observation === undefined) {
    return responses;
  }
  const scoped = log.scoped ? scopedStream(log, responses) : responses;
  return observation.sent === undefined ? scoped : counted(scoped, observation.sent);
}

/** The responses of a stream, each counted as sent as it is handed to the transport. */
async function* counted(responses: AsyncIterable<unknown>, sent: () => void): AsyncGenerator<unknown> {
  for await (const response of responses) {
    sent();
    yield response;
  }
}

function validate(validator: Validator, schema: DescMessage, message: unknown): void {
  const result = validator.validate(schema, message as never);
  if (result.kind === "valid") {
    return;
  }
  if (result.kind === "error") {
    throw result.error;
  }
  throw invalidRequest(
    result.violations.map((v) => ({
      field: pathToString(v.field),
      description: v.message,
    })),
  );
}

/** Turns whatever an implementation threw into the error the caller should see. */
export function mapError(err: unknown, ctx: HandlerContext, log: () => Logger): ConnectError {
  if (ctx.signal.aborted && err === ctx.signal.reason) {
    return ConnectError.from(err);
  }
  if (err instanceof ConnectError) {
    if (err.code === Code.Internal || err.code === Code.Unknown) {
      log().error({ err }, "call failed");
    }
    return boundError(err);
  }
  const outcome = redisFailure(err);
  if (outcome !== undefined) {
    log().warn({ err }, "redis unavailable");
    return backendUnavailable(outcome);
  }
  log().error({ err }, "call failed with an unexpected error");
  return new ConnectError("internal error", Code.Internal);
}
