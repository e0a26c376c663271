import { Code } from "@connectrpc/connect";
import type { DescriptorIndex } from "./descriptor-index.js";

/**
 * A reflection request, independent of the protocol version: the
 * `message_request` oneof of `grpc.reflection.v1` and `v1alpha` (identical
 * apart from the package), which both generated types are assignable to.
 */
export type ReflectionQuery =
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: "allExtensionNumbersOfType"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined; value?: undefined };

/**
 * The `message_response` oneof, as an init shape that both versions' response
 * schemas accept.
 */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * The state of one reflection stream. The protocol lets a server skip files it
 * already sent on the same stream; a session remembers which. The requested
 * file always comes first, because grpcurl (jhump/protoreflect) takes the
 * first file of a response as the answer; its imports not sent before follow.
 */
export class ReflectionSession {
  private readonly sent = new Set<string>();

  constructor(private readonly index: DescriptorIndex) {}

  answer(query: ReflectionQuery): ReflectionAnswer {
    switch (query.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: this.index.serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename":
        return this.files(this.index.fileByName(query.value), `file ${query.value}`);
      case "fileContainingSymbol":
        return this.files(this.index.fileContainingSymbol(query.value), `symbol ${query.value}`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = query.value;
        return this.files(
          this.index.fileContainingExtension(containingType, extensionNumber),
          `extension ${extensionNumber} of ${containingType}`,
        );
      }
      case "allExtensionNumbersOfType": {
        const numbers = this.index.extensionNumbersOf(query.value);
        if (!numbers) return notFound(`type ${query.value}`);
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: query.value, extensionNumber: [...numbers] },
        };
      }
      case undefined:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "request names no known message_request" },
        };
    }
  }

  private files(name: string | undefined, what: string): ReflectionAnswer {
    if (name === undefined) return notFound(what);
    const fileDescriptorProto: Uint8Array[] = [];
    for (const file of this.index.closureOf(name)) {
      if (file !== name && this.sent.has(file)) continue;
      this.sent.add(file);
      fileDescriptorProto.push(this.index.encodedFile(file));
    }
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
  }
}

function notFound(what: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}
