// `npm test`'s vitest step: the two projects of vitest.config.ts in two processes side by
// side, since vitest itself runs one file at a time across projects whose files must not
// overlap. The Node project runs at a lower CPU priority: the browser tests' figures
// (offload, stalls) depend on the CPU their pages get, and they leave most of it idle while
// videos play in real time. The browser project streams its report; the Node project's is
// printed whole when it ends, so the two never interleave. Fails if either fails.
import { spawn } from 'node:child_process'
import { setPriority } from 'node:os'

const vitest = (project, stdio) =>
  spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--project', project], { stdio })

const exitOf = child =>
  new Promise(resolve => {
    child.on('error', err => {
      console.error(`cannot run vitest: ${err.message}`)
      resolve(1)
    })
    child.on('close', code => resolve(code ?? 1))
  })

const browser = vitest('browser', 'inherit')
const node = vitest('node', ['ignore', 'pipe', 'pipe'])
// Set before vitest has started its workers (it takes a second to load), which inherit it.
if (node.pid !== undefined) setPriority(node.pid, 10)
const report = []
node.stdout.on('data', chunk => report.push(chunk))
node.stderr.on('data', chunk => report.push(chunk))
const nodeDone = exitOf(node).then(code => {
  process.stdout.write(Buffer.concat([Buffer.from('\n--- vitest --project node ---\n'), ...report]))
  return code
})
const codes = await Promise.all([exitOf(browser), nodeDone])
if (codes.some(code => code !== 0)) {
  console.error(`tests failed: ${['browser', 'node'].filter((_, i) => codes[i] !== 0).join(', ')}`)
  process.exit(1)
}
