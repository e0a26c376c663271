import { defineConfig } from "vitest/config";

export default defineConfig({
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
