import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "runtime/**/*.test.ts", "sync/**/*.test.ts", "functions/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn child processes and open libSQL files; two forks match a 2-core box.
    pool: "forks",
    maxWorkers: 2,
  },
});
