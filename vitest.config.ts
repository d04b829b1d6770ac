import { defineConfig } from "vitest/config"

/**
 * Two projects: `unit` (models, stage contracts, specs, kernels: seconds, no
 * build) and `e2e` (whole runs through the scheduler and the real
 * `node dist/run.js`, built once by the global setup). `npm test` runs both.
 */
export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], globalSetup: ["test/global-setup.ts"] },
      },
    ],
  },
})
