import { defineConfig } from 'vitest/config'

/** Files that drive Chromium: each opens several contexts, so they run one after another. */
const BROWSER = ['test/e2e/**/*.test.ts', 'test/adversarial/client/**/*.test.ts']
const EXCLUDE = ['test/**/*.external.test.ts', 'node_modules/**']

export default defineConfig({
  test: {
    exclude: EXCLUDE,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Within a project one file at a time. `npm test` (scripts/test.mjs) runs the two
    // projects side by side, so on 2 cores one browser and one Node-only file overlap.
    projects: [
      { extends: true, test: { name: 'browser', include: BROWSER, fileParallelism: false } },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, ...BROWSER],
          fileParallelism: false
        }
      }
    ]
  }
})
