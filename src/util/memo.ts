/**
 * Memoizes a function of a string for up to `limit` distinct arguments; past
 * that it starts over (cheap, and the working set of a server is a few hot
 * events). For values that are pure functions of their key, such as an
 * event's Redis key names, which otherwise cost a dozen string allocations on
 * every request.
 */
export function memoByKey<T>(limit: number, compute: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      if (cache.size >= limit) {
        cache.clear();
      }
      value = compute(key);
      cache.set(key, value);
    }
    return value;
  };
}
