/**
 * Options from flags, the environment and a config object, with one error format for all
 * three: `Invalid option "NAME": expected WHAT, got VALUE`, where NAME is the config key
 * (`port`), the flag (`--port`) or the variable (`P2PCDN_PORT`) the bad value came from.
 * A value from a `--config` file is named by the file and its key instead:
 * `config FILE: "KEY": expected WHAT, got VALUE`.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { errorMessageOf } from '../../protocol/src/index.js'

/** A bad option, whichever way it was given. `main` exits 2 on one. */
export class OptionError extends TypeError {
  override name = 'OptionError'
  constructor(
    /** The config key, flag or variable, as the message names it. */
    readonly option: string,
    problem: string,
    options?: ErrorOptions
  ) {
    super(`Invalid option "${option}": ${problem}`, options)
  }
}

/**
 * What is wrong with a config file or one of its values: `config FILE: PROBLEM`, or
 * `config FILE: "KEY": PROBLEM`. `option` is the key (`--config` for the file as a whole).
 */
export class ConfigFileError extends OptionError {
  override name = 'ConfigFileError'
  constructor(
    readonly file: string,
    key: string | undefined,
    problem: string,
    options?: ErrorOptions
  ) {
    super(key ?? '--config', problem, options)
    this.message = `config ${file}: ${key === undefined ? '' : `"${key}": `}${problem}`
  }
}

/** A parsed config file. */
export interface ConfigFile {
  /** As given, for messages. */
  path: string
  /** Relative paths in the file are resolved against this folder, not the working directory. */
  dir: string
  values: ReadonlyMap<string, unknown>
  /** The file's secrets when anyone on the machine may read it; empty otherwise. */
  exposedSecrets: string[]
}

/**
 * `expected WHAT, got VALUE`. Leave `got` out for secrets, which must not reach a log.
 */
export function optionError(option: string, expected: string, ...got: [] | [unknown]): OptionError {
  return new OptionError(
    option,
    got.length === 0 ? `expected ${expected}` : `expected ${expected}, got ${shown(got[0])}`
  )
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

export function checkPort(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65_535)
    throw optionError(option, 'an integer from 0 to 65535', value)
  return value
}

export function checkPositiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw optionError(option, 'a positive integer', value)
  return value
}

export function checkNonEmptyString(option: string, value: unknown): string {
  // The value may be a secret: not echoed.
  if (typeof value !== 'string' || value === '') throw optionError(option, 'a non-empty string')
  return value
}

/** The flags every service has; `runService` adds them to the service's own. */
export const SERVICE_FLAGS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'shutdown-grace-ms': { type: 'string' }
} as const

/** Where one option's value came from: a flag or variable (text), or a config file (JSON). */
type Raw = { text: string; from: string } | { json: unknown; key: string; config: ConfigFile }

/**
 * Reads each option from its flag, else its `P2PCDN_*` variable, else its key in the
 * config file (the flag in camelCase); a variable exported empty (`P2PCDN_EDGE_TOKEN=`)
 * counts as not set. Errors name whichever of the three was used. Values from the file
 * are typed JSON: numbers for numbers, `true`/`false` for switches, arrays for lists;
 * relative paths in it are relative to the file.
 */
export class FlagReader {
  constructor(
    private readonly values: Readonly<Record<string, string | boolean | undefined>>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly config?: ConfigFile
  ) {}

  /** The value and where it came from, or undefined when none of the three sets it. */
  private raw(flag: string, variable: string): Raw | undefined {
    const value = this.values[flag]
    if (typeof value === 'string') return { text: value, from: `--${flag}` }
    const text = this.env[variable]
    if (text !== undefined && text !== '') return { text, from: variable }
    const key = configKey(flag)
    if (this.config?.values.has(key) === true) return { json: this.config.values.get(key), key, config: this.config }
    return undefined
  }

  /** `problem` under the name the value came from: the flag, the variable or the file's key. */
  private error(raw: Raw, problem: string, options?: ErrorOptions): OptionError {
    return 'text' in raw
      ? new OptionError(raw.from, problem, options)
      : new ConfigFileError(raw.config.path, raw.key, problem, options)
  }

  /**
   * `expected WHAT, got VALUE`. Without `echo` the value may be a secret: a flag's is left
   * out, a file's shown by its JSON type only.
   */
  private bad(raw: Raw, expected: string, echo: boolean): OptionError {
    const value = 'text' in raw ? raw.text : raw.json
    const got = echo ? `, got ${shown(value)}` : 'text' in raw ? '' : `, got ${typeName(value)}`
    return this.error(raw, `expected ${expected}${got}`)
  }

  /** The name the option was given under (`--flag`, the variable, or the file's key), for errors about its value. */
  source(flag: string, variable: string): string | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    return 'text' in raw ? raw.from : `config ${raw.config.path} "${raw.key}"`
  }

  string(flag: string, variable: string): string | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined || 'text' in raw) return raw?.text
    if (typeof raw.json !== 'string' || raw.json === '') throw this.bad(raw, 'a non-empty string', false)
    return raw.json
  }

  /** A path: from the file, relative to the file's folder. */
  path(flag: string, variable: string): string | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined || 'text' in raw) return raw?.text
    if (typeof raw.json !== 'string' || raw.json === '') throw this.bad(raw, 'a path', false)
    return resolve(raw.config.dir, raw.json)
  }

  /** Comma-separated in a flag or variable, an array of strings in the file. */
  list(flag: string, variable: string): string[] | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    if ('text' in raw)
      return raw.text
        .split(',')
        .map(s => s.trim())
        .filter(Boolean)
    if (!Array.isArray(raw.json) || !raw.json.every(item => typeof item === 'string'))
      throw this.bad(raw, 'an array of strings', false)
    return raw.json
  }

  /** A boolean flag, or its variable set to `1` or `true` (set to anything else: false), or `true`/`false` in the file. */
  boolean(flag: string, variable: string): boolean {
    const value = this.values[flag]
    if (typeof value === 'boolean') return value
    const raw = this.raw(flag, variable)
    if (raw === undefined) return false
    if ('text' in raw) return raw.text === '1' || raw.text === 'true'
    if (typeof raw.json !== 'boolean') throw this.bad(raw, 'true or false', true)
    return raw.json
  }

  integer(flag: string, variable: string): number | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    const value = 'text' in raw ? (/^\d+$/.test(raw.text) ? Number(raw.text) : NaN) : raw.json
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw this.bad(raw, 'a positive integer', true)
    return value
  }

  port(flag: string, variable: string): number | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    const value = 'text' in raw ? (/^\d+$/.test(raw.text) ? Number(raw.text) : NaN) : raw.json
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65_535)
      throw this.bad(raw, 'an integer from 0 to 65535', true)
    return value
  }

  /** A count of processes: a positive integer up to `max`, or `auto` for `auto` (the cores). */
  count(flag: string, variable: string, auto: number, max: number): number | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    const value =
      'text' in raw ? (raw.text === 'auto' ? 'auto' : /^\d+$/.test(raw.text) ? Number(raw.text) : NaN) : raw.json
    if (value === 'auto') return auto
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
      throw this.bad(raw, `"auto" or an integer from 1 to ${max}`, true)
    return value
  }

  choice<C extends string>(flag: string, variable: string, choices: readonly C[]): C | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    const value = 'text' in raw ? raw.text : raw.json
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value))
      throw this.bad(raw, choices.join(' or '), true)
    return value as C
  }

  /** The contents of the file the option names. */
  file(flag: string, variable: string): Buffer | undefined {
    const path = this.path(flag, variable)
    if (path === undefined) return undefined
    try {
      return readFileSync(path)
    } catch (err) {
      throw this.error(this.raw(flag, variable)!, `cannot read ${shown(path)}: ${errorMessageOf(err)}`, { cause: err })
    }
  }

  /** The parsed contents of the JSON file the option names. */
  jsonFile(flag: string, variable: string): unknown {
    const contents = this.file(flag, variable)
    if (contents === undefined) return undefined
    try {
      return JSON.parse(contents.toString('utf8')) as unknown
    } catch (err) {
      throw this.error(this.raw(flag, variable)!, 'expected a JSON file', { cause: err })
    }
  }

  /** The options of `SERVICE_FLAGS`, as both services' `Init` name them. */
  service(): { port?: number; host?: string; tls?: { cert: Buffer; key: Buffer }; shutdownGraceMs?: number } {
    return {
      port: this.port('port', 'P2PCDN_PORT'),
      host: this.string('host', 'P2PCDN_HOST'),
      tls: this.tls(),
      shutdownGraceMs: this.integer('shutdown-grace-ms', 'P2PCDN_SHUTDOWN_GRACE_MS')
    }
  }

  /** `--cert` and `--key` (`P2PCDN_CERT`, `P2PCDN_KEY`, `cert`, `key`), read; undefined for plain HTTP. */
  tls(): { cert: Buffer; key: Buffer } | undefined {
    const cert = this.raw('cert', 'P2PCDN_CERT')
    const key = this.raw('key', 'P2PCDN_KEY')
    // One without the other is a typo, not a request for plain HTTP: refuse rather than
    // silently serve unencrypted.
    if (cert === undefined && key !== undefined)
      throw this.error(key, 'expected to come with --cert (or P2PCDN_CERT, "cert")')
    if (cert !== undefined && key === undefined)
      throw this.error(cert, 'expected to come with --key (or P2PCDN_KEY, "key")')
    if (cert === undefined || key === undefined) return undefined
    return { cert: this.file('cert', 'P2PCDN_CERT')!, key: this.file('key', 'P2PCDN_KEY')! }
  }
}

/** `edge-token` -> `edgeToken`: a flag's key in a config file. */
export function configKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

/** What JSON holds, for messages that must not echo the value. */
function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
