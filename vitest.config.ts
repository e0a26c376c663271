import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Examples import the callers' package by name, as a caller would; in this repository that is its source.
    alias: [
      { find: /^@boxoffice\/client$/, replacement: source("./src/client/index.ts") },
      { find: /^@boxoffice\/client\/pass$/, replacement: source("./src/client/pass.ts") },
      { find: /^@boxoffice\/client\/grpc-js$/, replacement: source("./src/client/grpc-js.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Files run in parallel in separate processes against one shared Redis; each test owns its ids.
    pool: "forks",
    fileParallelism: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
