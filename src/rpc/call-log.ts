import { randomUUID } from "node:crypto";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { RpcCallObserver, RpcMethodObserver } from "../observe/rpc-observer.js";
import { codeName } from "./code-names.js";

/** An `x-request-id` we adopt as given; anything else is replaced by a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An `event_id` as the contract allows it; anything else (the request is then refused) is not logged. */
const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface CallLogOptions {
  readonly logger: Logger;
  readonly service: string;
  readonly method: string;
  /** Level of the completion line: `info` with LOG_CALLS=true, otherwise `debug`. */
  readonly level: "info" | "debug";
  /** Sees each call's start and completion (metrics, tracing); undefined: nobody does. */
  readonly observer?: RpcMethodObserver | undefined;
}

/**
 * The log side of one call. The request id comes from the caller's
 * `x-request-id` (when well formed) or is made here, and is echoed in the
 * response headers. The child logger is made only when something is logged,
 * and the completion line (`rpcService`, `rpcMethod`, `code`, `durationMs`,
 * `eventId`, `requestId`; `service` is already the process, "boxoffice") is
 * written only when its level is enabled, so a quiet hot path pays for a
 * clock read and a header, not for JSON. The same completion point tells
 * the method's observer, if any, how the call ended.
 */
export class CallLog {
  readonly requestId: string;
  /** The observer's handle on this call, when the method is observed. */
  readonly observation: RpcCallObserver | undefined;
  private readonly started = performance.now();
  private child: Logger | undefined;
  private eventId: string | undefined;
  private finished = false;

  constructor(
    private readonly options: CallLogOptions,
    ctx: HandlerContext,
  ) {
    const given = ctx.requestHeader.get("x-request-id");
    this.requestId = given !== null && REQUEST_ID.test(given) ? given : randomUUID();
    ctx.responseHeader.set("x-request-id", this.requestId);
    this.observation = options.observer?.start(ctx);
  }

  /** Whether part of the call must run through `within` (an observer keeps a context for it). */
  get scoped(): boolean {
    return this.observation?.within !== undefined;
  }

  /** Runs `fn(a, b)` as part of the call, in its observer's context if it keeps one (see `RpcCallObserver`). */
  within<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    const within = this.observation?.within;
    return within === undefined ? fn(a, b) : within(fn, a, b);
  }

  /** Notes the event a request is about (its `event_id`, when well formed), for the completion line. */
  about(request: unknown): void {
    const eventId = (request as { eventId?: unknown } | undefined)?.eventId;
    if (typeof eventId === "string" && EVENT_ID.test(eventId)) {
      this.eventId = eventId;
    }
  }

  /** The call's child logger, made on first use. */
  logger(): Logger {
    this.child ??= this.options.logger.child({ rpc: `${this.options.service}/${this.options.method}`, requestId: this.requestId });
    return this.child;
  }

  /** Writes the completion line (once): `err` undefined means OK. Returns `err`, to be thrown. */
  done<E extends ConnectError | undefined>(err?: E): E {
    if (this.finished) {
      return err as E;
    }
    this.finished = true;
    const { logger, level } = this.options;
    const logged = logger.isLevelEnabled(level);
    if (!logged && this.observation === undefined) {
      return err as E;
    }
    const durationMs = Math.round((performance.now() - this.started) * 1000) / 1000;
    if (logged) {
      logger[level](
        {
          rpcService: this.options.service,
          rpcMethod: this.options.method,
          code: codeName(err?.code),
          durationMs,
          eventId: this.eventId,
          requestId: this.requestId,
        },
        "rpc completed",
      );
    }
    this.observation?.end({ code: err === undefined ? 0 : err.code, error: err, durationMs, requestId: this.requestId, eventId: this.eventId });
    return err as E;
  }

  /**
   * For a stream the transport stopped reading (client gone, deadline,
   * shutdown): completes with the reason the call's signal carries, unless
   * the call already completed.
   */
  abandoned(ctx: HandlerContext): void {
    if (!this.finished) {
      this.done(ConnectError.from(ctx.signal.aborted ? ctx.signal.reason : new ConnectError("stream abandoned", Code.Canceled)));
    }
  }
}
