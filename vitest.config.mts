import { defineConfig } from "vitest/config";

// Two projects: everything that runs in-process, and the end-to-end tests that share one
// local datacenter booted on the real Docker engine (test/e2e/globalSetup.ts).
export default defineConfig({
  test: {
    // Pulumi mocks and config are process-global: every file gets its own module graph.
    isolate: true,
    pool: "forks",
    // Most test files wait on sockets, Docker and child processes rather than the CPU: three
    // workers on the 2-core machines roughly halve the suite's wall time.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 300_000,
    reporters: ["default", "./test/support/summaryReporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts", "images/**/*.test.ts", "policies/**/*.test.ts", "components/**/*.test.ts"],
          exclude: ["test/e2e/**", "**/node_modules/**", "**/dist/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.e2e.test.ts"],
          globalSetup: ["test/e2e/globalSetup.ts"],
          // The files share one datacenter and some stop its containers: one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
        },
      },
    ],
  },
});
