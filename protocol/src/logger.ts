/**
 * The logger every part takes as an option, so tests can silence or capture it.
 * Log ids, counts and durations; never SDP blobs or content bytes.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>

export interface Logger {
  debug: (event: string, fields?: LogFields) => void
  info: (event: string, fields?: LogFields) => void
  warn: (event: string, fields?: LogFields) => void
  error: (event: string, fields?: LogFields) => void
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

const LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LEVELS)[number]

/**
 * One JSON object per line: `{"t":"2026-...","level":"info","name":"p2pcdn:tracker","event":"listening",...}`.
 * `write` receives each line with its newline; the binaries pass stdout.
 */
export function createJsonLogger(name: string, write: (line: string) => void, minLevel: LogLevel = 'info'): Logger {
  const min = LEVELS.indexOf(minLevel)
  const at =
    (level: LogLevel) =>
    (event: string, fields?: LogFields): void => {
      if (LEVELS.indexOf(level) < min) return
      write(JSON.stringify({ t: new Date().toISOString(), level, name, event, ...fields }) + '\n')
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
