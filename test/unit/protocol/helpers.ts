import { expect } from 'vitest'

/** Assert that `fn` throws an error whose `code` is `code`; returns the error. */
export function expectCode(fn: () => unknown, code: string): Error & { code: string } {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected a throw').toBeInstanceOf(Error)
  expect((caught as { code?: unknown }).code).toBe(code)
  return caught as Error & { code: string }
}
