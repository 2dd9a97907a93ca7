import { defineConfig } from 'vitest/config'

/**
 * The tests Stryker runs (`npm run mutate`, stryker.config.mjs): the Node-side tests that
 * import protocol/, tracker/, edge/ and the client modules directly. Left out: anything
 * that launches Chromium or needs dist/ (test/e2e, test/adversarial/client), the bundle
 * size check (it bundles the instrumented client, so its size means nothing), the
 * external tests, bench/, and the files listed below.
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
      // Load tests: their rates and latencies mean nothing with the code instrumented.
      'test/integration/tracker-webtorrent-crowd.test.ts',
      // The server under test runs in a child process, whose code Stryker neither covers
      // nor switches mutants in: these can kill no mutant, and their RSS and latency
      // bounds fail at random under instrumentation.
      'test/adversarial/edge/**',
      'test/adversarial/tracker/ip-flood.test.ts',
      'test/adversarial/tracker/limits.test.ts',
      'test/adversarial/tracker/slow-reader.test.ts',
      'test/integration/tracker-cluster.test.ts',
      'test/integration/tracker-fuzz.test.ts',
      'test/integration/tracker-main.test.ts',
      'bench/**'
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks'
  }
})
