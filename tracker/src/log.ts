import type { LogFields, Logger } from '../../protocol/src/index.js'

/** Tag every line with `component`, so one binary's log can be filtered by module. */
export function scopeLogger(logger: Logger, component: string): Logger {
  const at =
    (write: Logger['info']) =>
    (event: string, fields?: LogFields): void => {
      write(event, { component, ...fields })
    }
  return { debug: at(logger.debug), info: at(logger.info), warn: at(logger.warn), error: at(logger.error) }
}
