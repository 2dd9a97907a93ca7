// @ts-check
/**
 * Mutation testing (issue 12): `npm run mutate`, not part of `npm test`.
 * See test/MUTATION.md for the scores, the survivors and how to run one folder:
 *   npm run mutate -- --mutate 'protocol/src/**\/*.ts'
 */
import { readdirSync } from 'node:fs'
import { build } from 'esbuild'

/** The test files vitest.mutate.config.ts runs, so the client list below matches them. */
function nodeTestFiles() {
  return readdirSync('test', { recursive: true, encoding: 'utf8' })
    .map(file => `test/${file.replaceAll('\\', '/')}`)
    .filter(file => /^test\/(unit|integration|adversarial)\/.*\.test\.ts$/.test(file))
    .filter(file => !file.startsWith('test/adversarial/client/') && !file.endsWith('bundle-size.test.ts'))
}

/**
 * The SDK modules the Node-side tests import, directly or not (esbuild's metafile of the
 * test files): the rest of client/src (client.ts, swarm.ts, tracker-client.ts, the
 * script-tag glue) runs only in Chromium, where Stryker cannot see it.
 */
async function clientModulesReached() {
  const result = await build({
    entryPoints: nodeTestFiles(),
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outdir: '.stryker-tmp/reach',
    logLevel: 'silent'
  })
  return Object.keys(result.metafile.inputs)
    .filter(file => file.startsWith('client/src/') && file.endsWith('.ts'))
    .sort()
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', pool: 'forks' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'protocol/src/**/*.ts',
    'tracker/src/**/*.ts',
    'edge/src/**/*.ts',
    ...(await clientModulesReached()),
    // argv/env entry points: the tests run them only as child processes, whose code
    // Stryker neither covers nor switches mutants in.
    '!tracker/src/main.ts',
    '!edge/src/main.ts'
  ],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) are covered by every test: each one would
  // rerun the whole ~5 min suite. They are reported as Ignored, not scored.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  concurrency: 2,
  // A mutant that hangs a server test is stopped after 1.5x the covering tests' own time
  // + 10 s and counted as Timeout (vitest's own testTimeout is 30 s).
  timeoutFactor: 1.5,
  timeoutMS: 10_000,
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowEmojis: false, logTests: false, maxTestsToLog: 0 },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', 'site', 'test-results', '.cache', 'examples/site/media', 'bench/results'],
  thresholds: { high: 80, low: 60, break: null }
}
