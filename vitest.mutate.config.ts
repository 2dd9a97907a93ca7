import { defineConfig } from 'vitest/config'

/**
 * The tests Stryker runs (`npm run mutate`, stryker.config.mjs): the Node-side tests that
 * import protocol/, tracker/, edge/ and the client modules directly. Left out: anything
 * that launches Chromium or needs dist/ (test/e2e, test/adversarial/client), the bundle
 * size check (it bundles the instrumented client, so its size means nothing), the
 * external tests and bench/.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/adversarial/**/*.test.ts'],
    exclude: [
      'node_modules/**',
      'test/**/*.external.test.ts',
      'test/e2e/**',
      'test/adversarial/client/**',
      'test/unit/client/bundle-size.test.ts',
      // load tests: their rates and latencies mean nothing with the code instrumented
      'test/integration/tracker-webtorrent-crowd.test.ts',
      'bench/**'
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks'
  }
})
