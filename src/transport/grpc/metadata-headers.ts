import type { Metadata } from "@grpc/grpc-js";
import { metadataToHeaderPairs } from "./metadata.js";

/**
 * A call's request metadata as `Headers`, copied only when needed.
 *
 * Building a populated `Headers` costs several microseconds (undici checks
 * every name and value), and the call policy reads one or two headers of
 * every call (`authorization`, `x-request-id`). `get` and `has` here read
 * the metadata directly, with the same shape as the full copy (`-bin` values
 * base64, repeated values joined with ", "); anything else — iteration, or a
 * change — first copies every entry and then behaves as plain `Headers`.
 */
/** `Headers` with its methods typed as methods, so a subclass may override them and call `super`. */
interface HeadersMethods {
  get(name: string): string | null;
  has(name: string): boolean;
  append(name: string, value: string): void;
  delete(name: string): void;
  set(name: string, value: string): void;
  getSetCookie(): string[];
  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
const HeadersBase = Headers as unknown as new () => HeadersMethods;

export class MetadataHeaders extends HeadersBase {
  #metadata: Metadata | undefined;

  constructor(metadata: Metadata) {
    super();
    this.#metadata = metadata;
  }

  override get(name: string): string | null {
    const metadata = this.#metadata;
    if (metadata === undefined) return super.get(name);
    const values = metadata.get(name.toLowerCase());
    if (values.length === 0) return null;
    return values.map((v) => (typeof v === "string" ? v : v.toString("base64"))).join(", ");
  }

  override has(name: string): boolean {
    const metadata = this.#metadata;
    return metadata === undefined ? super.has(name) : metadata.get(name.toLowerCase()).length > 0;
  }

  override append(name: string, value: string): void {
    this.#copy();
    super.append(name, value);
  }

  override delete(name: string): void {
    this.#copy();
    super.delete(name);
  }

  override set(name: string, value: string): void {
    this.#copy();
    super.set(name, value);
  }

  override getSetCookie(): string[] {
    this.#copy();
    return super.getSetCookie();
  }

  override forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.#copy();
    super.forEach(callback, thisArg);
  }

  override entries(): IterableIterator<[string, string]> {
    this.#copy();
    return super.entries();
  }

  override keys(): IterableIterator<string> {
    this.#copy();
    return super.keys();
  }

  override values(): IterableIterator<string> {
    this.#copy();
    return super.values();
  }

  override [Symbol.iterator](): IterableIterator<[string, string]> {
    this.#copy();
    return super[Symbol.iterator]();
  }

  #copy(): void {
    const metadata = this.#metadata;
    if (metadata === undefined) return;
    this.#metadata = undefined;
    for (const [key, value] of metadataToHeaderPairs(metadata)) super.append(key, value);
  }
}
