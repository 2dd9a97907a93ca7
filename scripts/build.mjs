// Builds the browser SDK (IIFE + ESM) and the Node command line into dist/.
import { build } from 'esbuild'
import { mkdir } from 'node:fs/promises'
import { browserOptions, root } from './browser-options.mjs'
import { buildPackage, nodeOptions } from './build-package.mjs'

await mkdir(`${root}/dist`, { recursive: true })
// `--types` (npm pack's prepack) adds the declarations.
const pkg = buildPackage({ types: process.argv.includes('--types') })

const [iife] = await Promise.all([
  build({
    ...browserOptions,
    entryPoints: ['client/src/global.ts'],
    outfile: 'dist/p2pcdn.js',
    format: 'iife',
    globalName: 'P2PCDN'
  }),
  build({ ...browserOptions, entryPoints: ['client/src/index.ts'], outfile: 'dist/p2pcdn.mjs', format: 'esm' }),
  // A classic script: the site's worker file pulls it in with importScripts.
  build({
    ...browserOptions,
    entryPoints: ['client/src/service-worker/worker.ts'],
    outfile: 'dist/p2pcdn-sw.js',
    format: 'iife'
  }),
  // The player integrations as their own modules (`p2pcdn/hlsjs`, `p2pcdn/shaka`): they take the instance.
  build({ ...browserOptions, entryPoints: ['client/src/media/hlsjs.ts'], outfile: 'dist/hlsjs.mjs', format: 'esm' }),
  build({ ...browserOptions, entryPoints: ['client/src/media/shaka.ts'], outfile: 'dist/shaka.mjs', format: 'esm' }),
  build({ ...nodeOptions, entryPoints: ['cli/p2pcdn.ts'], outfile: 'dist/cli.js' })
])

const bytes = Object.values(iife.metafile.outputs).find(o => o.entryPoint)?.bytes ?? 0
console.log(
  `built dist/p2pcdn.js (${(bytes / 1024).toFixed(1)} KiB minified), dist/p2pcdn.mjs, dist/p2pcdn-sw.js, dist/hlsjs.mjs, dist/shaka.mjs, dist/cli.js`
)

await pkg
