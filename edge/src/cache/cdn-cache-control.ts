/**
 * `CDN-Cache-Control` (RFC 9213) as a Structured Field Dictionary (RFC 9651), turned into
 * the same `Directives` map `Cache-Control` gives so the policy code reads both alike.
 * https://www.rfc-editor.org/rfc/rfc9213#section-2.1
 *
 * A Cache-Control parser is deliberately not reused: RFC 9213 §2.1 warns that its error
 * handling differs, and an invalid targeted field must be ignored as a whole, so that the
 * cache falls back to `Cache-Control` / `Expires` instead of obeying a half-read field.
 */
import { parseDictionary, Token } from 'structured-headers'
import type { Dictionary } from 'structured-headers'

/** Cache-Control-style directives by lowercase name; a bare directive is `true`. */
export type Directives = Map<string, string | true>

/** Directives whose value is delta-seconds: an sf-integer >= 0. */
const INTEGER = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error'])
/** Directives that only ever have the value Boolean true. */
const FLAG = new Set(['no-store', 'public', 'must-revalidate', 'proxy-revalidate'])
/** RFC 9213 §2.1: true, or a String listing field names (the qualified form). */
const FLAG_OR_FIELDS = new Set(['no-cache', 'private'])

/**
 * The directives of a `CDN-Cache-Control` value, or undefined when the field must be
 * ignored: empty, not a valid Dictionary, or a directive above with a value of another type.
 * Members with parameters keep their value and lose the parameters, which no directive defines.
 */
export function parseCdnCacheControl(value: string): Directives | undefined {
  // §2.1: "If a targeted field in a given response is empty ... that field MUST be ignored".
  if (value.trim() === '') return undefined
  let dict: Dictionary
  try {
    dict = parseDictionary(value)
  } catch {
    return undefined
  }
  const decimals = decimalMembers(value)
  const out: Directives = new Map()
  for (const [name, member] of dict) {
    // `unknown`, not the package's BareItem: that names the DOM's BufferSource, which the Node
    // lib lacks, so it collapses to `any`; every use below narrows by typeof anyway.
    const item: unknown = member[0]
    // An Inner List is an array of items; no cache directive takes one.
    const bare = Array.isArray(item) ? undefined : item
    if (INTEGER.has(name)) {
      // The parser returns Integer and Decimal alike as a number, so `1.0` is told apart by its text.
      if (typeof bare !== 'number' || !Number.isInteger(bare) || bare < 0 || decimals.has(name)) return undefined
      out.set(name, String(bare))
    } else if (FLAG.has(name)) {
      if (bare !== true) return undefined
      out.set(name, true)
    } else if (FLAG_OR_FIELDS.has(name)) {
      if (bare !== true && typeof bare !== 'string') return undefined
      out.set(name, bare)
    } else {
      // Unknown extensions: keep what maps onto the Cache-Control shape, drop the rest unread.
      const mapped = unknownValue(bare)
      if (mapped !== undefined) out.set(name, mapped)
    }
  }
  return out
}

function unknownValue(bare: unknown): string | true | undefined {
  if (bare === true) return true
  if (typeof bare === 'string') return bare
  if (typeof bare === 'number') return String(bare)
  if (bare instanceof Token) return bare.toString()
  return undefined
}

/**
 * Names of Dictionary members whose value is written as a Decimal. Only called on text that
 * already parsed as a Dictionary, so after removing Strings (and Display Strings), a member
 * value is exactly what follows `key=` at the start of the field or after a comma.
 */
function decimalMembers(value: string): Set<string> {
  const text = value.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  const last = new Map<string, boolean>()
  // A repeated key keeps its last value (RFC 9651 §4.2.2), so only the last spelling counts.
  for (const m of text.matchAll(/(?:^|,)[ \t]*([a-z*][a-z0-9_\-.*]*)(=-?\d+\.)?/g)) {
    if (m[1] !== undefined) last.set(m[1], m[2] !== undefined)
  }
  return new Set([...last].filter(([, decimal]) => decimal).map(([name]) => name))
}
