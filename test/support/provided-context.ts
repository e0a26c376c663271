/**
 * Values the global setup hands to every test file through vitest's
 * `provide`/`inject`. Declared once so both sides are type-checked.
 */
declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the Redis server the tests share; each test keeps to its own keys. */
    redisUrl: string;
  }
}

export {};
