import { Code } from "@connectrpc/connect";

/** Canonical gRPC code names (`NOT_FOUND`), as operators grep for them; connect's enum has no OK (0). */
const CODE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "OK"],
  ...Object.entries(Code)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([name, code]): [number, string] => [code, name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()]),
]);

/** `OK` for undefined or 0 (success), the canonical name of any other code, `UNKNOWN` for what is none. */
export function codeName(code: Code | undefined): string {
  return code === undefined ? "OK" : (CODE_NAMES.get(code) ?? "UNKNOWN");
}
