// Builds the browser SDK (IIFE + ESM) and the Node command line into dist/.
import { build } from 'esbuild'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
await mkdir(`${root}/dist`, { recursive: true })

// simple-peer pulls in Node's `events`, `buffer` and readable-stream (which calls
// `process.nextTick`): the npm packages of the same names stand in for them.
const browser = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  platform: 'browser',
  define: { global: 'globalThis' },
  inject: [`${root}/client/src/shims/process.js`],
  logLevel: 'warning',
  metafile: true
}

const [iife] = await Promise.all([
  build({ ...browser, entryPoints: ['client/src/global.ts'], outfile: 'dist/p2pcdn.js', format: 'iife', globalName: 'P2PCDN' }),
  build({ ...browser, entryPoints: ['client/src/index.ts'], outfile: 'dist/p2pcdn.mjs', format: 'esm' }),
  build({
    absWorkingDir: root,
    entryPoints: ['cli/p2pcdn.ts'],
    outfile: 'dist/cli.js',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning'
  })
])

const bytes = Object.values(iife.metafile.outputs).find(o => o.entryPoint)?.bytes ?? 0
console.log(`built dist/p2pcdn.js (${(bytes / 1024).toFixed(1)} KiB minified), dist/p2pcdn.mjs, dist/cli.js`)
