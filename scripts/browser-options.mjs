// esbuild options of the browser SDK, shared by scripts/build.mjs and the size test.
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))

/** `dist/p2pcdn.js` must stay at or under this many gzipped bytes (40 KB read as 40 KiB). */
export const BUNDLE_BUDGET_GZIP_BYTES = 40 * 1024

const shim = name => `${root}/client/src/shims/${name}.cjs`

// simple-peer pulls in Node's stream, buffer, events (via readable-stream), debug and
// randombytes: 60+ KB minified of which it uses a sliver. Small stand-ins keep it working.
export const browserOptions = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  platform: 'browser',
  define: { global: 'globalThis' },
  alias: {
    debug: shim('debug'),
    buffer: shim('buffer'),
    randombytes: shim('randombytes'),
    'readable-stream': shim('readable-stream')
  },
  logLevel: 'warning',
  metafile: true
}
