import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { registration, type ServiceRegistration } from "../rpc/registration.js";
import { DescriptorIndex } from "./descriptor-index.js";
import { ReflectionSession, type ReflectionAnswer, type ReflectionQuery } from "./reflection-session.js";
import { untilAborted } from "../watch/until-aborted.js";

/**
 * Both reflection services, for callers that want them listed (and
 * describable) alongside their own: `createReflectionServices([...mine,
 * ...reflectionServiceDescriptors])`.
 */
export const reflectionServiceDescriptors: readonly DescService[] = [ServerReflectionV1, ServerReflectionV1alpha];

/**
 * gRPC server reflection, `grpc.reflection.v1` and `v1alpha`, over the
 * descriptors protobuf-es generated. Lists exactly the given services and
 * serves their files with every transitive import, which strict clients
 * require to build descriptors.
 *
 * `extraFiles` are served without listing a service (error detail types).
 *
 * Both versions share one precomputed index; each stream gets its own session
 * so files already sent on it are not sent again. Unknown names are answered
 * in-stream with an `error_response` (NOT_FOUND), and the stream goes on. A
 * stream ends with the reason of the call's signal when it aborts (server
 * shutdown, deadline), even while the client is silent.
 */
export function createReflectionServices(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): ServiceRegistration[] {
  const index = new DescriptorIndex(services, extraFiles);

  const serverReflectionInfo = streamHandler(index);
  const v1: ServiceImpl<typeof ServerReflectionV1> = { serverReflectionInfo };
  const v1alpha: ServiceImpl<typeof ServerReflectionV1alpha> = { serverReflectionInfo };
  return [registration(ServerReflectionV1, v1), registration(ServerReflectionV1alpha, v1alpha)];
}

/**
 * The bidi handler shared by both versions: their requests and responses
 * differ only in package name, so one generic generator serves each, echoing
 * the request in its own version's type.
 */
function streamHandler(index: DescriptorIndex) {
  return async function* serverReflectionInfo<R extends { host: string; messageRequest: ReflectionQuery }>(
    requests: AsyncIterable<R>,
    ctx: HandlerContext,
  ): AsyncGenerator<{ validHost: string; originalRequest: R; messageResponse: ReflectionAnswer }> {
    const session = new ReflectionSession(index);
    for await (const request of untilAborted(requests, ctx.signal)) {
      yield {
        validHost: request.host,
        originalRequest: request,
        messageResponse: session.answer(request.messageRequest),
      };
    }
  };
}
