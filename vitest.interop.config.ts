import { defineConfig } from 'vitest/config'

// The interop suite (npm run test:interop): real Kubo, IPFS Cluster and the Go `ipfs` CLI
// against the hub. One composite setup for all files, started by the global setup.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    globalSetup: ['test/interop/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
