// `npm install` in a clone (npm's `prepare`, which also runs before `npm pack`): build
// dist/ so `npx p2pcdn tracker` works at once. An install without devDependencies
// (`npm ci --omit=dev` over a dist/ built elsewhere, as in a two-stage image) has no
// esbuild: it keeps dist/ as it is instead of failing the install.
import { createRequire } from 'node:module'

try {
  createRequire(import.meta.url).resolve('esbuild')
} catch {
  console.log('p2pcdn: devDependencies not installed; dist/ not rebuilt (npm run build needs them)')
  process.exit(0)
}
await import('./build.mjs')
