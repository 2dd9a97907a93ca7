/**
 * The size budget of the script-tag build: builds dist/p2pcdn.js in memory with the
 * same options as `npm run build`, prints its size, fails above the budget.
 */
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { expect, it } from 'vitest'
// @ts-expect-error plain .mjs build script without types
import { BUNDLE_BUDGET_GZIP_BYTES, browserOptions } from '../../../scripts/browser-options.mjs'

it('dist/p2pcdn.js stays within the gzipped size budget', async () => {
  const result = await build({
    ...browserOptions,
    entryPoints: ['client/src/global.ts'],
    outfile: 'p2pcdn.js',
    format: 'iife',
    globalName: 'P2PCDN',
    write: false,
    sourcemap: false
  })
  const js = result.outputFiles?.find(f => f.path.endsWith('.js'))?.contents ?? new Uint8Array(0)
  const gzipped = gzipSync(js, { level: 9 }).length
  console.log(`dist/p2pcdn.js: ${js.length} B minified, ${gzipped} B gzipped (budget ${BUNDLE_BUDGET_GZIP_BYTES} B)`)
  expect(gzipped).toBeLessThanOrEqual(BUNDLE_BUDGET_GZIP_BYTES)
})
