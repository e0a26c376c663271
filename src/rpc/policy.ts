import { randomUUID } from "node:crypto";
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { backendUnavailable, invalidRequest } from "./errors.js";
import type { ServiceRegistration } from "./registration.js";

export interface CallPolicyDeps {
  readonly logger: Logger;
  readonly validator: Validator;
}

type AnyFn = (input: unknown, ctx: HandlerContext) => unknown;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Wraps every method of a service once, for both transports: a child logger
 * per call (with the caller's `x-request-id`, or a fresh one), made only when
 * something is logged so the hot path pays nothing for it; protovalidate
 * validation before the implementation
 * runs (so nothing invalid reaches Redis), and error mapping. Expected
 * failures are `ConnectError`s raised by the implementation; a Redis outage
 * becomes UNAVAILABLE; anything else is logged as a bug and returned as
 * INTERNAL without its message.
 */
export function withCallPolicy(reg: ServiceRegistration, deps: CallPolicyDeps): ServiceRegistration {
  const impl: Record<string, AnyFn> = {};
  const source = reg.impl as unknown as Record<string, AnyFn>;
  for (const method of reg.service.methods) {
    const fn = source[method.localName];
    if (!fn) {
      continue;
    }
    impl[method.localName] = wrapMethod(reg.service, method, fn.bind(reg.impl), deps);
  }
  return { service: reg.service, impl: impl as unknown as ServiceImpl<DescService> };
}

function wrapMethod(service: DescService, method: DescMethod, fn: AnyFn, deps: CallPolicyDeps): AnyFn {
  const rpc = `${service.typeName}/${method.name}`;
  const check = (message: unknown): void => validate(deps.validator, method.input, message);
  const begin = (ctx: HandlerContext): (() => Logger) => {
    let logger: Logger | undefined;
    return () => {
      if (!logger) {
        const given = ctx.requestHeader.get("x-request-id");
        const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
        logger = deps.logger.child({ rpc, requestId });
      }
      return logger;
    };
  };
  switch (method.methodKind) {
    case "unary":
      return async (request, ctx) => {
        const log = begin(ctx);
        try {
          check(request);
          return await fn(request, ctx);
        } catch (err) {
          throw mapError(err, ctx, log);
        }
      };
    case "server_streaming":
      return async function* (request, ctx) {
        const log = begin(ctx);
        try {
          check(request);
          yield* fn(request, ctx) as AsyncIterable<unknown>;
        } catch (err) {
          throw mapError(err, ctx, log);
        }
      };
    case "client_streaming":
    case "bidi_streaming":
      return async function* (requests, ctx) {
        const log = begin(ctx);
        const checked = (async function* () {
          for await (const message of requests as AsyncIterable<unknown>) {
            check(message);
            yield message;
          }
        })();
        try {
          const result = fn(checked, ctx);
          if (method.methodKind === "client_streaming") {
            return await result;
          }
          yield* result as AsyncIterable<unknown>;
        } catch (err) {
          throw mapError(err, ctx, log);
        }
      };
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
    return err;
  }
  if (isRedisUnavailable(err)) {
    log().warn({ err }, "redis unavailable");
    return backendUnavailable();
  }
  log().error({ err }, "call failed with an unexpected error");
  return new ConnectError("internal error", Code.Internal);
}

/** ioredis failures that mean "cannot reach Redis", as opposed to a script bug. */
function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) {
    return false;
  }
  if (err.name === "MaxRetriesPerRequestError") {
    return true;
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"].includes(code)) {
    return true;
  }
  return /^(Connection is closed|Stream isn't writeable|Command timed out)/.test(err.message) || /^(LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message);
}
