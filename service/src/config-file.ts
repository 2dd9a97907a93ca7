/**
 * `--config FILE`: a JSON object whose keys are the service's flags in camelCase
 * (`--edge-token` is `edgeToken`, `--edges-file` is `edgesFile`). Flags and `P2PCDN_*`
 * variables win over it; `FlagReader` checks each value's type when it reads the key.
 */
import { readFileSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { errorMessageOf } from '../../protocol/src/index.js'
import { ConfigFileError, configKey } from './options.js'
import type { ConfigFile } from './options.js'

/** A config key larger than this is not echoed in full (a file of garbage must not flood the log). */
const MAX_KEY_SHOWN_CHARS = 64
/** The file is read whole: a config file is a few KiB, anything near this is not one. */
const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/**
 * Read and check `path`: a JSON object whose every key is one of `flags` in camelCase.
 * Values are checked later, by type, as `FlagReader` reads them.
 * @param secrets flags whose values are secrets; listed in `exposedSecrets` when the file
 *   is readable by all (the caller warns; refusing would break containers that run as one user)
 */
export function readConfigFile(path: string, flags: readonly string[], secrets: readonly string[] = []): ConfigFile {
  let text: string
  let mode: number
  try {
    const stat = statSync(path)
    if (!stat.isFile()) throw new Error('not a regular file')
    if (stat.size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`)
    mode = stat.mode
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigFileError(path, undefined, `cannot read it: ${errorMessageOf(err)}`, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigFileError(path, undefined, `not valid JSON: ${errorMessageOf(err)}`, { cause: err })
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigFileError(path, undefined, 'expected a JSON object of options, like {"port": 8000}')

  const known = new Map(flags.map(flag => [configKey(flag), flag]))
  const values = new Map<string, unknown>()
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) {
      const near = nearest(key, [...known.keys()])
      const shown = JSON.stringify(key.length > MAX_KEY_SHOWN_CHARS ? `${key.slice(0, MAX_KEY_SHOWN_CHARS)}...` : key)
      throw new ConfigFileError(
        path,
        undefined,
        `unknown key ${shown}${near === undefined ? '' : ` (did you mean "${near}"?)`}`
      )
    }
    values.set(key, value)
  }
  const secretKeys = secrets.map(configKey).filter(key => values.has(key))
  // 0o004: "others" may read. Windows has no such bit: Node reports 0o666 for every file.
  const exposed = process.platform !== 'win32' && (mode & 0o004) !== 0
  return { path, dir: dirname(resolve(path)), values, exposedSecrets: exposed ? secretKeys : [] }
}

/** The candidate closest to `key` by edit distance, if it is close enough to be a typo. */
export function nearest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  // A third of the length: "edgeTokn" finds "edgeToken", "cache" does not find "host".
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + cost))
    }
    row = next
  }
  return row[b.length]!
}
