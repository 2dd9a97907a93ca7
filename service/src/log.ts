/** The services' logging: JSON lines from protocol's logger, tagged per module. */
import { createJsonLogger } from '../../protocol/src/index.js'
import type { LogFields, Logger } from '../../protocol/src/index.js'
import { optionError } from './options.js'

/** One JSON object per line on stdout, as the binaries log. */
export function stdoutLogger(name: string): Logger {
  return createJsonLogger(name, line => process.stdout.write(line))
}

/** Tag every line with `component`, so one binary's log can be filtered by module. */
export function scopeLogger(logger: Logger, component: string): Logger {
  const at =
    (write: Logger['info']) =>
    (event: string, fields?: LogFields): void => {
      write(event, { component, ...fields })
    }
  return { debug: at(logger.debug), info: at(logger.info), warn: at(logger.warn), error: at(logger.error) }
}

export function checkLogger(option: string, value: unknown): Logger {
  const methods = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  if (!['debug', 'info', 'warn', 'error'].every(level => typeof methods[level] === 'function'))
    throw optionError(option, 'an object with debug, info, warn and error functions')
  return value as Logger
}
