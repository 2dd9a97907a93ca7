/**
 * `p2pcdn edge`: the only edge file that reads argv and the environment. Flags win
 * over environment variables.
 */
import { parseArgs } from 'node:util'
import { createJsonLogger } from '../../protocol/src/index.js'
import { createEdge } from './index.js'
import type { EdgeInit } from './config.js'

const USAGE = `Usage: p2pcdn edge --origin URL [options]

  --origin URL        origin to cache (P2PCDN_ORIGIN), required
  --port N            port to listen on, 0 = any (P2PCDN_PORT) [8081]
  --host ADDR         address to listen on (P2PCDN_HOST) [127.0.0.1]
  --region NAME       region this edge serves (P2PCDN_REGION) [default]
  --tracker URL       tracker ws:// URL to register with (P2PCDN_TRACKER)
  --edge-token T      tracker's edge token (P2PCDN_EDGE_TOKEN)
  --public-url URL    URL clients reach this edge at (P2PCDN_PUBLIC_URL) [http://host:port]
  --cache-dir DIR     also keep the cache on disk here (P2PCDN_CACHE_DIR)
  --sdk-path FILE     browser SDK served at /p2pcdn.js (P2PCDN_SDK_PATH) [dist/p2pcdn.js]`

const OPTIONS = {
  origin: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  region: { type: 'string' },
  tracker: { type: 'string' },
  'edge-token': { type: 'string' },
  'public-url': { type: 'string' },
  'cache-dir': { type: 'string' },
  'sdk-path': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

/** @param argv the arguments after `p2pcdn edge` */
export async function main (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  let init: EdgeInit
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true })
    if (parsed.values.help === true) {
      process.stdout.write(USAGE + '\n')
      return
    }
    init = initFrom(parsed.values, env)
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err))
  }

  const logger = createJsonLogger('p2pcdn:edge', s => process.stdout.write(s))
  let edge
  try {
    edge = createEdge({ ...init, logger })
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err))
  }
  const shutdown = (signal: string): void => {
    logger.info('signal', { signal })
    edge.stop().then(() => process.exit(0), err => {
      logger.error('stop-failed', { error: String(err) })
      process.exit(1)
    })
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  try {
    await edge.start()
  } catch (err) {
    logger.error('start-failed', { error: String(err) })
    await edge.stop().catch(() => {})
    process.exitCode = 1
  }
}

function initFrom (values: Partial<Record<keyof typeof OPTIONS, string | boolean>>, env: NodeJS.ProcessEnv): EdgeInit {
  const pick = (flag: keyof typeof OPTIONS, name: string): string | undefined => {
    const value = values[flag]
    const chosen = typeof value === 'string' ? value : env[name]
    return chosen === '' ? undefined : chosen
  }
  const origin = pick('origin', 'P2PCDN_ORIGIN')
  if (origin === undefined) throw new Error('missing --origin (or P2PCDN_ORIGIN)')
  const portText = pick('port', 'P2PCDN_PORT')
  let port: number | undefined
  if (portText !== undefined) {
    port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65_535) throw new Error(`--port: expected 0-65535, got "${portText}"`)
  }
  return {
    origin,
    port,
    host: pick('host', 'P2PCDN_HOST'),
    region: pick('region', 'P2PCDN_REGION'),
    tracker: pick('tracker', 'P2PCDN_TRACKER'),
    edgeToken: pick('edge-token', 'P2PCDN_EDGE_TOKEN'),
    publicUrl: pick('public-url', 'P2PCDN_PUBLIC_URL'),
    cacheDir: pick('cache-dir', 'P2PCDN_CACHE_DIR'),
    sdkPath: pick('sdk-path', 'P2PCDN_SDK_PATH')
  }
}

function usageError (message: string): void {
  process.stderr.write(`p2pcdn edge: ${message}\n\n${USAGE}\n`)
  process.exitCode = 2
}
