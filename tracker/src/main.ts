/**
 * `p2pcdn tracker --port 8000 [--host 127.0.0.1] [--edge-token T | --edges-file FILE] [--regions FILE]
 * [--trust-proxy] [--redis redis://HOST:PORT] [--cert FILE --key FILE]`. The only tracker file that reads argv, the
 * environment or a config file; flags win over their P2PCDN_* variables.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createJsonLogger } from '../../protocol/src/index.js'
import { createTracker } from './index.js'
import type { Tracker, TrackerInit } from './index.js'

const USAGE = `Usage: p2pcdn tracker [--port 8000] [--host 127.0.0.1] [--edge-token T | --edges-file FILE] [--regions FILE]
                      [--trust-proxy] [--redis redis://HOST:PORT] [--cluster-ttl-ms 30000]
                      [--max-connections-per-ip 1000] [--messages-per-second 20] [--message-burst 60]
                      [--messages-per-second-per-ip 100] [--message-burst-per-ip 300]
                      [--max-peer-ids-per-ip-per-swarm 32] [--max-buffered-bytes 1048576]
                      [--max-buffered-bytes-total 67108864] [--cert FILE --key FILE]

  --port         TCP port for WebSocket and HTTP (env P2PCDN_PORT; default 8000, 0 = any free)
  --host         interface to listen on (env P2PCDN_HOST; default 127.0.0.1)
  --edge-token   shared secret edges register with: any holder may claim any URL
                 (env P2PCDN_EDGE_TOKEN; without it and --edges-file, edges are refused)
  --edges-file   JSON {"edges": [{"id": "eu1", "urls": ["https://eu1.cdn.example"],
                 "secretSha256": "<hex>"}]}: each edge registers with its id and own secret,
                 only at its URLs (env P2PCDN_EDGES_FILE)
  --allow-edge-token  with --edges-file, also accept --edge-token (env P2PCDN_ALLOW_EDGE_TOKEN=1)
  --edge-challenge on|off  check each edge answers at its URL before listing it
                 (env P2PCDN_EDGE_CHALLENGE; default on with --edges-file, off otherwise)
  --regions      JSON file {"cidrs": {"eu": ["10.0.0.0/8"]}, "neighbours": {"eu": ["us"]}}
                 (env P2PCDN_REGIONS)
  --trust-proxy  take the client address from X-Forwarded-For (env P2PCDN_TRUST_PROXY=1)
  --redis        share swarms and edges with other trackers through Redis (env P2PCDN_REDIS)
  --cluster-ttl-ms  how long a dead process's peers stay in Redis (env P2PCDN_CLUSTER_TTL_MS)
  --max-connections-per-ip  (env P2PCDN_MAX_CONNECTIONS_PER_IP; default 1000)
  --messages-per-second  per socket, on average (env P2PCDN_MESSAGES_PER_SECOND; default 20)
  --message-burst  per socket back to back; as many again get a warning (env P2PCDN_MESSAGE_BURST; default 60)
  --messages-per-second-per-ip  all sockets of one address (IPv6: /64) together
                 (env P2PCDN_MESSAGES_PER_SECOND_PER_IP; default 100)
  --message-burst-per-ip  (env P2PCDN_MESSAGE_BURST_PER_IP; default 300)
  --max-peer-ids-per-ip-per-swarm  peer ids one address may hold in one swarm
                 (env P2PCDN_MAX_PEER_IDS_PER_IP_PER_SWARM; default 32)
  --max-buffered-bytes  unsent bytes one socket may hold before it is dropped
                 (env P2PCDN_MAX_BUFFERED_BYTES; default 1048576)
  --max-buffered-bytes-total  unsent bytes of all slow sockets together; the largest go first
                 (env P2PCDN_MAX_BUFFERED_BYTES_TOTAL; default 67108864)
  --cert         PEM certificate chain: serve wss:// and HTTPS (env P2PCDN_CERT); needs --key
  --key          PEM private key for --cert (env P2PCDN_KEY)`

/** Exit code for a bad command line, as most Unix tools use. */
const EXIT_USAGE = 2

/** Run the tracker until SIGINT or SIGTERM. Exits 2 on a bad command line. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  let init: TrackerInit | undefined
  try {
    init = readOptions(argv, env)
  } catch (err) {
    process.stderr.write(`p2pcdn tracker: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`)
    process.exit(EXIT_USAGE)
  }
  if (init === undefined) return

  const logger = createJsonLogger('p2pcdn:tracker', s => process.stdout.write(s))
  let tracker: Tracker
  try {
    tracker = createTracker({ ...init, logger })
  } catch (err) {
    // resolveConfig names the bad option in a TypeError.
    process.stderr.write(`p2pcdn tracker: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(EXIT_USAGE)
  }
  try {
    await tracker.start()
  } catch (err) {
    // A taken port or an unreachable --redis: nothing to run.
    process.stderr.write(`p2pcdn tracker: cannot start: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
  if (init.edgeToken === undefined && init.edges === undefined) {
    logger.warn('edge-registration-disabled', {
      reason: 'no --edge-token or --edges-file (P2PCDN_EDGE_TOKEN, P2PCDN_EDGES_FILE)'
    })
  }
  process.stderr.write(`p2pcdn tracker listening on ${tracker.url} (HTTP ${tracker.httpUrl})\n`)

  const shutdown = (signal: string): void => {
    logger.info('shutdown', { signal })
    tracker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown-failed', { error: String(err) })
        process.exit(1)
      }
    )
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

/** Returns undefined after printing help for `--help`. Throws on a bad flag. */
function readOptions(argv: string[], env: NodeJS.ProcessEnv): TrackerInit | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'edge-token': { type: 'string' },
      'edges-file': { type: 'string' },
      'allow-edge-token': { type: 'boolean' },
      'edge-challenge': { type: 'string' },
      regions: { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      redis: { type: 'string' },
      'cluster-ttl-ms': { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      'messages-per-second': { type: 'string' },
      'message-burst': { type: 'string' },
      'messages-per-second-per-ip': { type: 'string' },
      'message-burst-per-ip': { type: 'string' },
      'max-peer-ids-per-ip-per-swarm': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
      'max-buffered-bytes-total': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true,
    allowPositionals: false
  })
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return undefined
  }
  const port = values.port ?? env.P2PCDN_PORT
  const regionsFile = values.regions ?? emptyToUndefined(env.P2PCDN_REGIONS)
  const ttl = values['cluster-ttl-ms'] ?? emptyToUndefined(env.P2PCDN_CLUSTER_TTL_MS)
  const perIp = values['max-connections-per-ip'] ?? emptyToUndefined(env.P2PCDN_MAX_CONNECTIONS_PER_IP)
  const edgesFile = values['edges-file'] ?? emptyToUndefined(env.P2PCDN_EDGES_FILE)
  const challenge = values['edge-challenge'] ?? emptyToUndefined(env.P2PCDN_EDGE_CHALLENGE)
  if (challenge !== undefined && challenge !== 'on' && challenge !== 'off')
    throw new Error(`invalid --edge-challenge "${challenge}": expected on or off`)
  const certFile = values.cert ?? emptyToUndefined(env.P2PCDN_CERT)
  const keyFile = values.key ?? emptyToUndefined(env.P2PCDN_KEY)
  // One without the other is a typo, not a request for plain ws://: refuse rather than
  // silently serve unencrypted.
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new Error('--cert and --key go together (or P2PCDN_CERT and P2PCDN_KEY)')
  return {
    port: port === undefined ? undefined : parsePort(port),
    host: values.host ?? emptyToUndefined(env.P2PCDN_HOST),
    edgeToken: values['edge-token'] ?? emptyToUndefined(env.P2PCDN_EDGE_TOKEN),
    edges: edgesFile === undefined ? undefined : readEdges(edgesFile),
    allowSharedEdgeToken:
      values['allow-edge-token'] ?? (env.P2PCDN_ALLOW_EDGE_TOKEN === '1' || env.P2PCDN_ALLOW_EDGE_TOKEN === 'true'),
    edgeChallenge: challenge === undefined ? undefined : challenge === 'on',
    regions: regionsFile === undefined ? undefined : readRegions(regionsFile),
    trustProxy: values['trust-proxy'] ?? (env.P2PCDN_TRUST_PROXY === '1' || env.P2PCDN_TRUST_PROXY === 'true'),
    redisUrl: values.redis ?? emptyToUndefined(env.P2PCDN_REDIS),
    clusterTtlMs: ttl === undefined ? undefined : parseCount('cluster-ttl-ms', ttl),
    maxConnectionsPerIp: perIp === undefined ? undefined : parseCount('max-connections-per-ip', perIp),
    ...countOptions(values, env),
    tls:
      certFile === undefined || keyFile === undefined
        ? undefined
        : { cert: readPem('cert', certFile), key: readPem('key', keyFile) }
  }
}

/** Integer options that take `--flag N` or `P2PCDN_FLAG=N`: flag, option, variable. */
const COUNT_FLAGS = [
  ['messages-per-second', 'messagesPerSecond', 'P2PCDN_MESSAGES_PER_SECOND'],
  ['message-burst', 'messageBurst', 'P2PCDN_MESSAGE_BURST'],
  ['messages-per-second-per-ip', 'messagesPerSecondPerIp', 'P2PCDN_MESSAGES_PER_SECOND_PER_IP'],
  ['message-burst-per-ip', 'messageBurstPerIp', 'P2PCDN_MESSAGE_BURST_PER_IP'],
  ['max-peer-ids-per-ip-per-swarm', 'maxPeerIdsPerIpPerSwarm', 'P2PCDN_MAX_PEER_IDS_PER_IP_PER_SWARM'],
  ['max-buffered-bytes', 'maxBufferedBytes', 'P2PCDN_MAX_BUFFERED_BYTES'],
  ['max-buffered-bytes-total', 'maxBufferedBytesTotal', 'P2PCDN_MAX_BUFFERED_BYTES_TOTAL']
] as const satisfies ReadonlyArray<readonly [string, keyof TrackerInit, string]>

type CountOption = (typeof COUNT_FLAGS)[number][1]

function countOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv
): Partial<Pick<TrackerInit, CountOption>> {
  const init: Partial<Pick<TrackerInit, CountOption>> = {}
  for (const [flag, option, variable] of COUNT_FLAGS) {
    const flagValue = values[flag]
    const text = typeof flagValue === 'string' ? flagValue : emptyToUndefined(env[variable])
    if (text !== undefined) init[option] = parseCount(flag, text)
  }
  return init
}

function readRegions(file: string): TrackerInit['regions'] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`cannot read --regions file "${file}": ${err instanceof Error ? err.message : String(err)}`)
  }
  try {
    return JSON.parse(text) as TrackerInit['regions']
  } catch {
    throw new Error(`--regions file "${file}" is not JSON`)
  }
}

/** The `edges` array of `--edges-file`; createTracker validates each entry. */
function readEdges(file: string): TrackerInit['edges'] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new Error(`cannot read --edges-file "${file}": ${err instanceof Error ? err.message : String(err)}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error(`--edges-file "${file}" is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`--edges-file "${file}": expected an object {"edges": [...]}`)
  const extra = Object.keys(value).filter(key => key !== 'edges')
  if (extra.length > 0)
    throw new Error(`--edges-file "${file}": unknown field "${extra[0]?.slice(0, 64)}" (expected only "edges")`)
  const edges = (value as { edges?: unknown }).edges
  if (!Array.isArray(edges)) throw new Error(`--edges-file "${file}": expected "edges" to be an array`)
  return edges as TrackerInit['edges']
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new Error(`cannot read --${flag} file "${file}": ${err instanceof Error ? err.message : String(err)}`)
  }
}

function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`invalid --${flag} "${text}": expected a positive integer`)
  return Number(text)
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new Error(`invalid port "${text}": expected an integer from 0 to 65535`)
  return port
}

/** An exported-but-empty variable (`P2PCDN_EDGE_TOKEN=`) means "not set". */
function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
