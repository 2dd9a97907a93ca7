/**
 * `npm run mutate [-- options]`: a Stryker run (stryker.config.mjs), then the score per
 * folder (scripts/mutation-scores.mjs). One folder:
 *   npm run mutate -- --mutate 'protocol/src/**\/*.ts'
 *
 * Stryker is driven through its API, not its CLI: StrykerJS 10's CLI refuses Node < 22 at
 * start-up (its engines say >=22), while this project supports Node 20 and the mutation run
 * itself works there. The package's main module loads the CLI (and its check) too, so the
 * Stryker class is imported from its own file, and the few CLI options worth having here
 * are parsed below.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const USAGE = `Usage: npm run mutate -- [options]
  --mutate GLOB            files to mutate, instead of the config's list (repeatable, or comma-separated)
  --incrementalFile FILE   incremental results file [reports/mutation/stryker-incremental.json]
  --force                  run every mutant, ignoring the incremental results
  --concurrency N          test runner processes [2]
  --dryRunOnly             only the initial test run
  --disableBail            run every test covering a mutant, not only up to the first failure
  --logLevel LEVEL         off, fatal, error, warn, info, debug, trace [info]
  --testFiles GLOB         only these test files (repeatable, or comma-separated)`

const { values } = parseArgs({
  options: {
    mutate: { type: 'string', multiple: true },
    incrementalFile: { type: 'string' },
    force: { type: 'boolean' },
    concurrency: { type: 'string' },
    dryRunOnly: { type: 'boolean' },
    disableBail: { type: 'boolean' },
    logLevel: { type: 'string' },
    testFiles: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const list = (/** @type {string[] | undefined} */ globs) => globs?.flatMap(glob => glob.split(','))

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
const options = {}
if (values.mutate) options.mutate = list(values.mutate)
if (values.testFiles) options.testFiles = list(values.testFiles)
if (values.incrementalFile) options.incrementalFile = values.incrementalFile
if (values.force) options.force = true
if (values.concurrency) options.concurrency = Number(values.concurrency)
if (values.dryRunOnly) options.dryRunOnly = true
if (values.disableBail) options.disableBail = true
if (values.logLevel) options.logLevel = /** @type {any} */ (values.logLevel)

const core = dirname(createRequire(import.meta.url).resolve('@stryker-mutator/core/package.json'))
/** @type {{ Stryker: typeof import('@stryker-mutator/core').Stryker }} */
const { Stryker } = await import(pathToFileURL(join(core, 'dist', 'src', 'stryker.js')).href)

const started = Date.now()
await new Stryker(options).runMutationTest()
console.log(`\nstryker run: ${((Date.now() - started) / 60_000).toFixed(1)} min wall time\n`)
if (values.dryRunOnly) process.exit(0)
const scores = spawnSync(process.execPath, [join(import.meta.dirname, 'mutation-scores.mjs')], { stdio: 'inherit' })
process.exit(scores.status ?? 1)
