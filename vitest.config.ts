import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.external.test.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Browser tests open several Chromium contexts; on 2 cores they must not overlap
    // with each other, so every file runs in one worker, one after another.
    fileParallelism: false,
    pool: 'forks'
  }
})
