import { Code, type ConnectError } from "@connectrpc/connect";
import { Reason } from "../../gen/boxoffice/v1/errors_pb.js";
import type { Authenticator } from "../auth/authenticator.js";
import { roleSatisfies, type Role } from "../auth/roles.js";
import { reasonError } from "./errors.js";

/**
 * The credential check of one call, before validation, the handler and any
 * Redis access: undefined when the caller may proceed, otherwise the error
 * to answer with. Missing or unknown credentials are UNAUTHENTICATED; a
 * known caller without the role is PERMISSION_DENIED, naming the role.
 * Messages never repeat what the caller sent.
 */
export function authorize(authenticator: Authenticator, required: Role, authorization: string | null): ConnectError | undefined {
  const identity = authenticator.authenticate(authorization);
  switch (identity.kind) {
    case "missing":
      return reasonError(Code.Unauthenticated, Reason.CREDENTIALS_MISSING, 'this method needs an "authorization: Bearer <token>" header');
    case "invalid":
      return reasonError(Code.Unauthenticated, Reason.CREDENTIALS_INVALID, "the bearer token is not valid");
    case "authenticated":
      return roleSatisfies(identity.role, required)
        ? undefined
        : reasonError(Code.PermissionDenied, Reason.ROLE_REQUIRED, `this method needs the ${required} role`, { role: required });
  }
}
