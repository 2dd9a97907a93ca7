/**
 * A copy of `obj` without its `undefined` properties, so that spreading it over defaults
 * (`{ ...DEFAULTS, ...dropUndefined(init) }`) keeps the default for `{ port: undefined }`
 * and a serialised message carries no empty keys.
 */
export function dropUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined)) as T
}
