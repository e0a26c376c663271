import { create, createFileRegistry, toBinary, type DescFile, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

/**
 * Everything server reflection needs to answer, computed once from the
 * descriptors of the mounted services and every file they import, directly or
 * not. Requests are then map lookups; no descriptor is serialised per request.
 *
 * The index only knows what protobuf-es embedded in the generated code. Two
 * gaps follow from that: comments (`source_code_info`) are not embedded, so
 * clients describe types without them; and `google/protobuf/descriptor.proto`
 * is a trimmed bootstrap copy (no file options, no reserved ranges), enough
 * for clients to resolve the extensions declared against its option messages.
 */
export class DescriptorIndex {
  /** Full names of the services listed by `list_services`, in the order given. */
  readonly serviceNames: readonly string[];

  private readonly registry: FileRegistry;
  /**
   * Serialised `FileDescriptorProto` per file name. Files are keyed by their
   * proto name (`foo/bar.proto`); `DescFile.name` drops the suffix.
   */
  private readonly encoded = new Map<string, Uint8Array>();
  /** Per file name: the file itself, then its transitive imports, dependencies first. */
  private readonly closures = new Map<string, readonly string[]>();
  /** Fully-qualified symbol → name of the file declaring it. */
  private readonly symbols = new Map<string, string>();
  /** Extendee type name → extension numbers declared for it, ascending. */
  private readonly extensionNumbers = new Map<string, number[]>();

  /**
   * `extraFiles` are resolvable but list no service: e.g. the error detail
   * types, so clients can decode `google.rpc.ErrorInfo` in error responses.
   */
  constructor(services: readonly DescService[], extraFiles: readonly DescFile[] = []) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))];
    const files = dependenciesFirst([...services.map((s) => s.file), ...extraFiles]);
    for (const { proto, dependencies } of files) {
      this.encoded.set(proto.name, toBinary(FileDescriptorProtoSchema, proto));
      this.closures.set(proto.name, [proto.name, ...dependenciesFirst(dependencies).map((d) => d.proto.name)]);
      this.indexFile(proto);
    }
    this.registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }));
    for (const type of this.registry) {
      if (type.kind !== "extension") continue;
      const numbers = this.extensionNumbers.get(type.extendee.typeName) ?? [];
      numbers.push(type.number);
      this.extensionNumbers.set(type.extendee.typeName, numbers);
    }
    for (const numbers of this.extensionNumbers.values()) numbers.sort((a, b) => a - b);
  }

  /** The file declaring a service, method, message, field, oneof, enum, enum value or extension. */
  fileContainingSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  /** The file name if the index knows it. */
  fileByName(name: string): string | undefined {
    return this.encoded.has(name) ? name : undefined;
  }

  /** The file declaring extension `number` of message `extendee`. */
  fileContainingExtension(extendee: string, number: number): string | undefined {
    const message = this.registry.getMessage(extendee);
    return message && this.registry.getExtensionFor(message, number)?.file.proto.name;
  }

  /** Known extension numbers of a message, or undefined if the message is unknown. */
  extensionNumbersOf(extendee: string): readonly number[] | undefined {
    if (!this.registry.getMessage(extendee)) return undefined;
    return this.extensionNumbers.get(extendee) ?? [];
  }

  /** The file, then its transitive imports (dependencies first). Only call with a known name. */
  closureOf(name: string): readonly string[] {
    return this.closures.get(name) ?? [];
  }

  /** The serialised `FileDescriptorProto`. Only call with a known name. */
  encodedFile(name: string): Uint8Array {
    const bytes = this.encoded.get(name);
    if (!bytes) throw new Error(`descriptor index has no file ${name}`);
    return bytes;
  }

  /**
   * Symbols come from the `FileDescriptorProto`s rather than the protobuf-es
   * descriptors, which leave out map entry messages and synthetic oneofs that
   * clients may still ask for.
   */
  private indexFile(file: FileDescriptorProto): void {
    const add = (symbol: string): void => {
      this.symbols.set(symbol, file.name);
    };
    const indexEnum = (scope: string, desc: EnumDescriptorProto): void => {
      const name = qualify(scope, desc.name);
      add(name);
      for (const value of desc.value) {
        // Enum values are siblings of their enum in protobuf scoping, which
        // protoc and grpc-go resolve; some clients name them inside the enum.
        add(qualify(scope, value.name));
        add(qualify(name, value.name));
      }
    };
    const indexMessage = (scope: string, desc: DescriptorProto): void => {
      const name = qualify(scope, desc.name);
      add(name);
      for (const member of [...desc.field, ...desc.oneofDecl, ...desc.extension]) add(qualify(name, member.name));
      for (const nested of desc.nestedType) indexMessage(name, nested);
      for (const nested of desc.enumType) indexEnum(name, nested);
    };
    for (const service of file.service) {
      const name = qualify(file.package, service.name);
      add(name);
      for (const method of service.method) add(qualify(name, method.name));
    }
    for (const message of file.messageType) indexMessage(file.package, message);
    for (const desc of file.enumType) indexEnum(file.package, desc);
    for (const extension of file.extension) add(qualify(file.package, extension.name));
  }
}

function qualify(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}

/** The given files and everything they import, each file after its imports, no repeats. */
function dependenciesFirst(roots: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const root of roots) visit(root);
  return ordered;
}
