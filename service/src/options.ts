/**
 * Options from flags, the environment and a config object, with one error format for all
 * three: `Invalid option "NAME": expected WHAT, got VALUE`, where NAME is the config key
 * (`port`), the flag (`--port`) or the variable (`P2PCDN_PORT`) the bad value came from.
 */
import { readFileSync } from 'node:fs'
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
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'shutdown-grace-ms': { type: 'string' }
} as const

/**
 * Reads each option from its flag, else its `P2PCDN_*` variable; a variable exported empty
 * (`P2PCDN_EDGE_TOKEN=`) counts as not set. Errors name whichever of the two was used.
 */
export class FlagReader {
  constructor(
    private readonly values: Readonly<Record<string, string | boolean | undefined>>,
    private readonly env: NodeJS.ProcessEnv
  ) {}

  /** The text and the name it came under, or undefined when neither is set. */
  private raw(flag: string, variable: string): { text: string; from: string } | undefined {
    const value = this.values[flag]
    if (typeof value === 'string') return { text: value, from: `--${flag}` }
    const text = this.env[variable]
    return text === undefined || text === '' ? undefined : { text, from: variable }
  }

  /** The name the option was given under (`--flag` or the variable), for errors about its value. */
  source(flag: string, variable: string): string | undefined {
    return this.raw(flag, variable)?.from
  }

  string(flag: string, variable: string): string | undefined {
    return this.raw(flag, variable)?.text
  }

  /** A boolean flag, or its variable set to `1` or `true`. */
  boolean(flag: string, variable: string): boolean {
    const value = this.values[flag]
    if (typeof value === 'boolean') return value
    const text = this.env[variable]
    return text === '1' || text === 'true'
  }

  integer(flag: string, variable: string): number | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    if (!/^\d+$/.test(raw.text) || Number(raw.text) < 1) throw optionError(raw.from, 'a positive integer', raw.text)
    return Number(raw.text)
  }

  port(flag: string, variable: string): number | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    if (!/^\d+$/.test(raw.text) || Number(raw.text) > 65_535)
      throw optionError(raw.from, 'an integer from 0 to 65535', raw.text)
    return Number(raw.text)
  }

  choice<C extends string>(flag: string, variable: string, choices: readonly C[]): C | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    if (!(choices as readonly string[]).includes(raw.text)) throw optionError(raw.from, choices.join(' or '), raw.text)
    return raw.text as C
  }

  /** The contents of the file the option names. */
  file(flag: string, variable: string): Buffer | undefined {
    const raw = this.raw(flag, variable)
    if (raw === undefined) return undefined
    try {
      return readFileSync(raw.text)
    } catch (err) {
      throw new OptionError(raw.from, `cannot read ${shown(raw.text)}: ${errorMessageOf(err)}`, { cause: err })
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

  /** `--cert` and `--key` (`P2PCDN_CERT`, `P2PCDN_KEY`), read; undefined for plain HTTP. */
  tls(): { cert: Buffer; key: Buffer } | undefined {
    const cert = this.raw('cert', 'P2PCDN_CERT')
    const key = this.raw('key', 'P2PCDN_KEY')
    // One without the other is a typo, not a request for plain HTTP: refuse rather than
    // silently serve unencrypted.
    if (cert === undefined && key !== undefined) throw optionError(key.from, 'to come with --cert (or P2PCDN_CERT)')
    if (cert !== undefined && key === undefined) throw optionError(cert.from, 'to come with --key (or P2PCDN_KEY)')
    if (cert === undefined || key === undefined) return undefined
    return { cert: this.file('cert', 'P2PCDN_CERT')!, key: this.file('key', 'P2PCDN_KEY')! }
  }
}
