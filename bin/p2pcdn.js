#!/usr/bin/env node
// The command line is bundled by `npm run build` into dist/cli.js.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  console.error('p2pcdn: dist/cli.js is missing; run `npm run build` first')
  process.exit(1)
}
await import(cli.href)
