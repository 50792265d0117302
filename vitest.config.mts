import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "images/**/*.test.ts", "policies/**/*.test.ts", "components/**/*.test.ts"],
    // Pulumi mocks and config are process-global: every file gets its own module graph.
    isolate: true,
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 300_000,
    reporters: ["default"],
  },
});
