import { defineConfig } from "vitest/config"

/**
 * `npm run test:slurm`: the sweep's SLURM engine on a real single-node cluster
 * (test/slurm/). Not part of `npm test`: it starts daemons as root and takes minutes.
 */
export default defineConfig({
  test: {
    include: ["test/slurm/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 1_200_000,
    hookTimeout: 120_000,
  },
})
