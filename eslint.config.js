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
// - tests and benches drive Chromium pages: what `page.evaluate` returns is `any` by
//   Playwright's typing, so the no-unsafe-* family is off there (and only there).
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'reports/**', '.stryker-tmp/**'] },
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
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidOperator: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }]
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
      '@typescript-eslint/no-explicit-any': 'off'
    }
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: globals.node } },
  { files: ['scripts/**', 'bin/**'], languageOptions: { globals: globals.node } },
  { files: ['examples/site/**/*.js'], languageOptions: { globals: globals.browser } },
  prettier
)
