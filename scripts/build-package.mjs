// The package's Node entries (`p2pcdn/tracker`, `p2pcdn/edge`) and, with `types` (for
// `npm pack`: its tsc runs take most of a build's time), the TypeScript declarations of
// every entry, into dist/. Called by build.mjs.
import { spawn } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { build } from 'esbuild'
import { root } from './browser-options.mjs'

/** Node bundles (dist/cli.js and the package's entries): one ES module each, dependencies left to `npm install`. */
export const nodeOptions = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning'
}

// The IIFE exports nothing to an importer: it defines `window.P2PCDN`, typed here.
const SCRIPT_TYPES = `// \`p2pcdn/script\`: the script-tag build. It defines the global \`P2PCDN\` and exports nothing.
import type * as Exports from './client/src/global.js'
declare global {
  var P2PCDN: typeof Exports
}
export {}
`

/** Emit declarations with one tsc program: no type check (`npm run typecheck` does that), so a few seconds. */
function tsc(project) {
  const bin = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '-p', project], { cwd: root, stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', code => (code === 0 ? resolve() : reject(new Error(`tsc -p ${project} exited ${code}`))))
  })
}

export async function buildPackage({ types }) {
  const bundles = Promise.all([
    build({ ...nodeOptions, entryPoints: ['tracker/src/index.ts'], outfile: 'dist/tracker.mjs' }),
    build({ ...nodeOptions, entryPoints: ['edge/src/index.ts'], outfile: 'dist/edge.mjs' })
  ])
  if (types) {
    // Declarations of deleted sources must not linger in the tarball.
    await rm(`${root}/dist/types`, { recursive: true, force: true })
    // The two programs differ in their globals (Node; the DOM) and both emit protocol/'s
    // declarations, which come out the same from either.
    await Promise.all([tsc('tsconfig.types.json'), tsc('client/tsconfig.types.json')])
    await writeFile(`${root}/dist/types/script.d.ts`, SCRIPT_TYPES)
  }
  await bundles
  console.log(`built dist/tracker.mjs, dist/edge.mjs${types ? ', dist/types/' : ''}`)
}
