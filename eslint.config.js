// ESLint: typescript-eslint's strict type-checked rules over every TypeScript file, each
// file checked against the tsconfig that owns it (projectService). Formatting is Prettier's
// job alone (eslint-config-prettier turns ESLint's stylistic rules off); the layout's
// boundaries and cycles are dependency-cruiser's (.dependency-cruiser.cjs).
//
// Relaxations, and why:
// - numbers and booleans in template strings are how every log line and error message here
//   is written; objects, `undefined` and `any` there are still errors.
// - `!` stays allowed: with `noUncheckedIndexedAccess` every index read after a bounds check
//   needs one, and the alternative (a runtime check that cannot fail) hides real ones.
// - `() => void x` and `() => fn()` returning void are the house's callback style.
// - an `async` function without `await` is how a synchronous implementation meets a
//   Promise-returning interface (stores, fakes) and turns its throws into rejections.
// - header bags and parsed JSON are plain objects by their APIs (Node's headers,
//   JSON.parse), so deleting a computed key is how they are edited (no-dynamic-delete off).
// - an AbortSignal's reason is rejected as the platform throws it (`throwIfAborted`).
// - an empty `catch {}` is a deliberate best-effort (cleanup, optional browser APIs);
//   other empty blocks are still errors.
// - tests and benches drive Chromium pages: what `page.evaluate` returns is `any` by
//   Playwright's typing, so the no-unsafe-* family is off there (and only there); and their
//   `afterAll` cleanup runs even when `beforeAll` failed, so `env?.close()` on a variable
//   typed as set is right there (no-unnecessary-condition off); `String(data)` on a ws
//   message is fine in a test (no-base-to-string off); and an async callback where a void
//   one is typed is their `it` and `page.on` style (no-misused-promises' checksVoidReturn
//   off there: a third of lint time).
// - deprecations are the editor's to show (no-deprecated off: a tenth of lint time).
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/**
 * Files linted against one shared program rather than their own tsconfig: each program
 * type-checks everything its files import again, and four of them cost more than two.
 * The browser side (client/ and the tests and benches that run in pages) shares
 * tsconfig.dom.json; protocol/ is linted in the root program. `npm run typecheck` still
 * checks client/ and protocol/ against their own, stricter tsconfigs (no Node, no DOM).
 * scripts/lint.mjs runs one ESLint per program, side by side.
 */
export const DOM_FILES = [
  'client/src',
  'test/e2e',
  'test/unit/client',
  'bench/swarm',
  'bench/latency',
  'bench/video',
  'bench/worker'
].map(d => `${d}/**/*.ts`)

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'test-results/**',
      'reports/**',
      '.stryker-tmp/**',
      'examples/site/media/**'
    ]
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidOperator: true }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/require-await': 'off',
      // No TypeScript enums here (string unions instead), and it cost a sixth of lint time.
      '@typescript-eslint/no-unsafe-enum-assignment': 'off',
      // A class instance assigned where another class's structurally equal type is wanted:
      // rare here (no nominal class hierarchies), and the costliest rule, a fifth of lint time.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-deprecated': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true }],
      'no-empty': ['error', { allowEmptyCatch: true }]
    }
  },
  {
    files: DOM_FILES,
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.dom.json', tsconfigRootDir: import.meta.dirname }
    }
  },
  {
    files: ['protocol/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.json', tsconfigRootDir: import.meta.dirname }
    }
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }]
    }
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: globals.node } },
  { files: ['scripts/**', 'bin/**'], languageOptions: { globals: globals.node } },
  {
    files: ['examples/site/**/*.js'],
    languageOptions: { globals: { ...globals.browser, P2PCDN: 'readonly', Hls: 'readonly' } }
  },
  prettier
)
