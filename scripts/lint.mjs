// `npm run lint`: ESLint, Prettier's check and dependency-cruiser side by side. ESLint's
// type-checked run is most of the time, so it runs as two processes, one per typed
// program (the browser side's and the rest's), instead of building both in one. Fails if
// any fails.
import { spawn } from 'node:child_process'
import { DOM_FILES } from '../eslint.config.js'

const checks = [
  ['eslint', ...DOM_FILES],
  ['eslint', '.', ...DOM_FILES.flatMap(glob => ['--ignore-pattern', glob])],
  ['prettier', '--check', '--log-level', 'warn', '.'],
  ['depcruise', '.', '--output-type', 'err']
]

const codes = await Promise.all(
  checks.map(
    args =>
      new Promise(resolve => {
        spawn(`node_modules/.bin/${args[0]}`, args.slice(1), { stdio: 'inherit' }).on('close', code =>
          resolve(code ?? 1)
        )
      })
  )
)
const failed = checks.filter((_, i) => codes[i] !== 0).map(([name]) => name)
if (failed.length > 0) {
  console.error(`lint failed: ${failed.join(', ')}`)
  process.exit(1)
}
