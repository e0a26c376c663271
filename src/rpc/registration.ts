import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";

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
