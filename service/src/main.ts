/**
 * The one `main` of both services: read the options, create, start, and stop on SIGINT or
 * SIGTERM. Exit codes: 2 for a bad command line or option (with the usage on stderr), 1
 * when the service cannot start or stop, 0 after a clean stop.
 */
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { errorMessageOf } from '../../protocol/src/index.js'
import type { Logger } from '../../protocol/src/index.js'
import { readConfigFile } from './config-file.js'
import type { ConfigFile } from './options.js'
import { stdoutLogger } from './log.js'
import { FlagReader, SERVICE_FLAGS } from './options.js'

/** Exit code for a bad command line, as most Unix tools use. */
export const EXIT_USAGE = 2
export const EXIT_FAILURE = 1

export interface Service {
  start: () => Promise<void>
  stop: () => Promise<void>
}

export interface ServiceMain<Init, S extends Service> {
  /** `tracker` or `edge`: the `p2pcdn NAME` of messages, and `p2pcdn:NAME` in the log. */
  name: string
  usage: string
  /** Its own flags, besides `SERVICE_FLAGS` and `--help`. */
  options: NonNullable<ParseArgsConfig['options']>
  /**
   * Flags whose values are secrets: a config file holding one should be readable by its
   * owner only (`p2pcdn keygen` writes keys 0600), and the service warns when it is not.
   */
  secrets?: readonly string[]
  /** Turn the flags, the environment and the config file into the service's options; throws on a bad one. */
  read: (flags: FlagReader) => Init
  /** Throws a TypeError naming the option on a bad one. */
  create: (init: Init, logger: Logger) => S
  /** What to say once listening, besides the service's own `listening` log line. */
  started?: (service: S, init: Init, logger: Logger) => void
}

export async function runService<Init, S extends Service>(
  spec: ServiceMain<Init, S>,
  argv: string[],
  env: NodeJS.ProcessEnv
): Promise<void> {
  const say = (text: string): void => {
    process.stderr.write(`p2pcdn ${spec.name}: ${text}\n`)
  }
  let service: S
  let init: Init
  const logger = stdoutLogger(`p2pcdn:${spec.name}`)
  try {
    const flags = { ...SERVICE_FLAGS, ...spec.options }
    const { values } = parseArgs({
      args: argv,
      options: { ...flags, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false
    })
    if (values.help === true) {
      process.stdout.write(`${spec.usage}\n`)
      return
    }
    const path = typeof values.config === 'string' ? values.config : env.P2PCDN_CONFIG
    let config: ConfigFile | undefined
    if (path !== undefined && path !== '') {
      // A config file naming another one would be a second layer no one asked for.
      const keys = Object.keys(flags).filter(flag => flag !== 'config')
      config = readConfigFile(path, keys, spec.secrets)
      if (config.exposedSecrets.length > 0) {
        logger.warn('config-readable-by-all', {
          file: path,
          secrets: config.exposedSecrets.join(','),
          fix: `chmod 600 ${path}`
        })
      }
    }
    init = spec.read(new FlagReader(values, env, config))
    service = spec.create(init, logger)
  } catch (err) {
    say(`${errorMessageOf(err)}\n\n${spec.usage}`)
    process.exit(EXIT_USAGE)
  }

  const stop = (signal: string): void => {
    logger.info('shutdown', { signal })
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown-failed', { error: errorMessageOf(err) })
        process.exit(EXIT_FAILURE)
      }
    )
  }
  // Once: a second signal while draining takes Node's default and ends the process.
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    await service.start()
  } catch (err) {
    // A taken port, an unreadable cache directory, an unreachable Redis: nothing to run.
    logger.error('start-failed', { error: errorMessageOf(err) })
    say(`cannot start: ${errorMessageOf(err)}`)
    await service.stop().catch(() => {})
    process.exit(EXIT_FAILURE)
  }
  spec.started?.(service, init, logger)
}
