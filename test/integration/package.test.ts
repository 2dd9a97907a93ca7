/**
 * The package as npm publishes it: `npm pack`, installed from the tarball into an empty
 * folder, then used there as a project would: `p2pcdn/tracker` and `p2pcdn/edge` started
 * from a Node script, the browser entries resolved, `npx p2pcdn`, and every entry
 * type-checked against the installed declarations.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc')
/** What the tarball's files may start with: no sources, tests, benches or demo site. */
const ALLOWED = /^(bin\/p2pcdn\.js|dist\/.+|package\.json|README\.md|LICENSE)$/

interface PackResult {
  filename: string
  size: number
  unpackedSize: number
  entryCount: number
  files: Array<{ path: string }>
}

let dir: string
let app: string
let packed: PackResult

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pcdn-package-'))
  app = join(dir, 'app')
  await mkdir(app)
  // `npm test` has built dist/ with the declarations already: rebuilding it here would
  // rewrite the SDK under the browser tests running beside this file. Packing without
  // scripts keeps prepack and `prepare` from rebuilding it too.
  if (!['tracker.mjs', 'edge.mjs', 'p2pcdn.js', 'types/script.d.ts'].every(f => existsSync(join(ROOT, 'dist', f))))
    await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--types'], { cwd: ROOT })
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT })
  packed = (JSON.parse(stdout) as PackResult[])[0]!
  const tarball = join(dir, packed.filename)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  const install = async (mode: string): Promise<void> => {
    await run('npm', ['install', mode, '--no-audit', '--no-fund', tarball], { cwd: app })
  }
  // The dependencies are in npm's cache from the project's own install; a cache that
  // lacks a package's metadata needs the registry once.
  await install('--offline').catch(async () => {
    await install('--prefer-offline')
  })
}, 90_000)

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the published package', () => {
  it('holds the built files only', () => {
    const paths = packed.files.map(f => f.path)
    console.log(
      `package: ${packed.filename} ${(packed.size / 1024).toFixed(0)} KiB packed, ` +
        `${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.entryCount} files`
    )
    expect(paths.filter(p => !ALLOWED.test(p))).toEqual([])
    expect(paths).toEqual(
      expect.arrayContaining([
        'bin/p2pcdn.js',
        'dist/cli.js',
        'dist/tracker.mjs',
        'dist/edge.mjs',
        'dist/p2pcdn.js',
        'dist/types/tracker/src/index.d.ts'
      ])
    )
  })

  it('starts a tracker and an edge from `p2pcdn/tracker` and `p2pcdn/edge`, and resolves every entry', async () => {
    const script = join(app, 'start.mjs')
    await writeFile(
      script,
      `import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createTracker } from 'p2pcdn/tracker'
import { createEdge } from 'p2pcdn/edge'

const tracker = createTracker({ port: 0, edgeToken: 'package-test-token' })
await tracker.start()
const edge = createEdge({ origin: 'http://127.0.0.1:9', port: 0, tracker: tracker.url, edgeToken: 'package-test-token' })
await edge.start()
const status = async url => (await fetch(url)).status
const result = {
  tracker: await status(tracker.httpUrl + '/healthz'),
  edge: await status(edge.url + '/healthz'),
  // The SDK the edge serves is the installed package's own dist/p2pcdn.js.
  sdk: await status(edge.url + '/p2pcdn.js'),
  entries: Object.fromEntries(
    ['p2pcdn', 'p2pcdn/hlsjs', 'p2pcdn/shaka', 'p2pcdn/script', 'p2pcdn/service-worker'].map(e => [e, existsSync(fileURLToPath(import.meta.resolve(e)))])
  )
}
await edge.stop()
await tracker.stop()
console.log(JSON.stringify(result))
`
    )
    const { stdout } = await run(process.execPath, [script], { cwd: app, timeout: 20_000 })
    expect(JSON.parse(stdout)).toEqual({
      tracker: 200,
      edge: 200,
      sdk: 200,
      entries: {
        p2pcdn: true,
        'p2pcdn/hlsjs': true,
        'p2pcdn/shaka': true,
        'p2pcdn/script': true,
        'p2pcdn/service-worker': true
      }
    })
  })

  it('runs `npx p2pcdn --help`, and `p2pcdn tracker --port 0` from the bin link npx runs', async () => {
    const { stdout } = await run('npx', ['--no', '--', 'p2pcdn', '--help'], { cwd: app })
    expect(stdout).toMatch(/^Usage: p2pcdn <command>/)

    // The link itself, not npx: a signal to npx does not reach its child.
    const tracker = spawn(join(app, 'node_modules', '.bin', 'p2pcdn'), ['tracker', '--port', '0'], { cwd: app })
    const exit = new Promise<number | null>(resolve => tracker.once('exit', code => resolve(code)))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = ''
        tracker.stderr.on('data', chunk => {
          err += String(chunk)
          const match = /\(HTTP (http:\/\/[^)]+)\)/.exec(err)
          if (match !== null) resolve(match[1]!)
        })
        void exit.then(code => reject(new Error(`exited ${String(code)}: ${err}`)))
      })
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true })
    } finally {
      tracker.kill('SIGTERM')
    }
    expect(await exit).toBe(0)
  })

  it('type-checks a project that imports every entry, with the installed declarations', async () => {
    await writeFile(
      join(app, 'check.ts'),
      `import { create } from 'p2pcdn'
import type { Client } from 'p2pcdn'
import { hlsjs } from 'p2pcdn/hlsjs'
import { shakaPlugin } from 'p2pcdn/shaka'
import 'p2pcdn/script'
import { createTracker } from 'p2pcdn/tracker'
import type { Tracker, TrackerInit } from 'p2pcdn/tracker'
import { createEdge } from 'p2pcdn/edge'
import type { Edge } from 'p2pcdn/edge'

const init: TrackerInit = { port: 0, edgeToken: 'x' }
export const tracker: Tracker = createTracker(init)
export const edge: Edge = createEdge({ origin: 'http://127.0.0.1:9' })
export const url: string = tracker.url
export const make: (...args: Parameters<typeof create>) => Client = create
export const players = [hlsjs, shakaPlugin]
// The script-tag build's global.
export const ready: Promise<Client | undefined> = P2PCDN.ready
// @ts-expect-error an unknown option is a type error: the declarations are not \`any\`
createTracker({ prot: 0 })
`
    )
    // As a strict Node project would: its own @types/node, library declarations checked too.
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          strict: true,
          noEmit: true,
          skipLibCheck: false
        },
        files: ['check.ts']
      })
    )
    const result = await run(TSC, ['-p', app]).then(
      () => '',
      (err: unknown) => String((err as { stdout?: string }).stdout)
    )
    expect(result).toBe('')
    // @types/node checked in full takes most of it: ~6 s alone, three times that on a busy machine.
  }, 90_000)
})
