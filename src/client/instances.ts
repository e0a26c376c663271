import { Code, ConnectError } from "@connectrpc/connect";

/** One instance, several taken in turn, or a function asked for each new connection (0, 1, …). */
export type InstanceChoice<T extends object> = T | readonly T[] | ((connection: number) => T);

/** What to use for each new connection: `watchPosition` and `consume` move to the next instance after a broken one. */
export function instancePicker<T extends object>(choice: InstanceChoice<T>, what: string): (connection: number) => T {
  if (typeof choice === "function") return choice as (connection: number) => T;
  if (!Array.isArray(choice)) return () => choice as T;
  const list = choice as readonly T[];
  if (list.length === 0) throw new ConnectError(`${what} needs at least one instance`, Code.InvalidArgument);
  return (connection) => list[connection % list.length] as T;
}
