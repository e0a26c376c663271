import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";

/**
 * A service descriptor paired with its implementation: the unit both
 * transports (grpc-js and connect-node) mount. The implementation is the full
 * `ServiceImpl`, so a forgotten RPC is a compile error where the registration
 * is made, not an `unimplemented` at run time.
 */
export interface ServiceRegistration {
  readonly service: DescService;
  readonly impl: ServiceImpl<DescService>;
}

/** Pairs a service with its implementation, keeping the typing strict at the call site. */
export function registration<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceRegistration {
  return { service, impl: impl as unknown as ServiceImpl<DescService> };
}

/** Any method of an implementation, as the wrappers below see it. */
export type AnyMethodImpl = (input: unknown, ctx: HandlerContext) => unknown;

/**
 * The same registration with every implemented method replaced by
 * `wrap(method, fn)` (`fn` bound to its implementation): what the call
 * policy and the backend guard are built from, once per method.
 */
export function wrapMethods(reg: ServiceRegistration, wrap: (method: DescMethod, fn: AnyMethodImpl) => AnyMethodImpl): ServiceRegistration {
  const impl: Record<string, AnyMethodImpl> = {};
  const source = reg.impl as unknown as Record<string, AnyMethodImpl>;
  for (const method of reg.service.methods) {
    const fn = source[method.localName];
    if (fn) {
      impl[method.localName] = wrap(method, fn.bind(reg.impl));
    }
  }
  return { service: reg.service, impl: impl as unknown as ServiceImpl<DescService> };
}
