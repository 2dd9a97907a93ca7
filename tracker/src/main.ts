/**
 * `p2pcdn tracker --port 8000 [--host 127.0.0.1] [--edge-token T | --edges-file FILE] [--regions FILE]
 * [--geoip FILE.mmdb] [--geoip-asn FILE.mmdb] [--trust-proxy] [--redis redis://HOST:PORT] [--cert FILE --key FILE]
 * [--config FILE]`. The only tracker file that reads argv, the environment or a config file; flags win
 * over their P2PCDN_* variables, which win over the file.
 */
import { FlagReader, OptionError } from '../../service/src/options.js'
import { runService } from '../../service/src/main.js'
import { openGeoIpDatabase } from './geoip.js'
import type { GeoIpDatabase, GeoIpKind } from './geoip.js'
import { createTracker } from './index.js'
import type { TrackerInit } from './index.js'

const USAGE = `Usage: p2pcdn tracker [--port 8000] [--host 127.0.0.1] [--edge-token T | --edges-file FILE] [--regions FILE]
                      [--geoip FILE.mmdb] [--geoip-asn FILE.mmdb] [--trust-proxy] [--redis redis://HOST:PORT] [--cluster-ttl-ms 30000]
                      [--max-connections-per-ip 1000] [--messages-per-second 20] [--message-burst 60]
                      [--messages-per-second-per-ip 100] [--message-burst-per-ip 300]
                      [--max-peer-ids-per-ip-per-swarm 32] [--max-buffered-bytes 1048576]
                      [--max-buffered-bytes-total 67108864] [--shutdown-grace-ms 5000]
                      [--dashboard-token T] [--stats-bytes-per-second 25000000]
                      [--stats-bytes-per-second-per-ip 250000000] [--max-stats-resources 1000]
                      [--cert FILE --key FILE] [--config FILE]

  --config       JSON file of options, each key a flag in camelCase: {"port": 8000, "edgeToken": "T"}
                 (env P2PCDN_CONFIG); flags and P2PCDN_* variables win over it
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
  --regions      JSON file {"cidrs": {"eu": ["10.0.0.0/8"]}, "countries": {"eu": ["DE", "FR"]},
                 "continents": {"eu": ["EU"]}, "neighbours": {"eu": ["us"]}}: CIDR blocks first
                 (longest prefix), then country, then continent (env P2PCDN_REGIONS)
  --geoip        MaxMind DB with countries (GeoLite2-Country or -City .mmdb): applies the
                 "countries" and "continents" rules (env P2PCDN_GEOIP)
  --geoip-asn    MaxMind DB with networks (GeoLite2-ASN .mmdb): offers go to peers of the
                 same network first, within the region (env P2PCDN_GEOIP_ASN)
  --trust-proxy  take the client address from X-Forwarded-For (env P2PCDN_TRUST_PROXY=1)
  --redis        share swarms and edges with other trackers through Redis; several
                 comma-separated urls are the seed nodes of a Redis Cluster (env P2PCDN_REDIS)
  --cluster-ttl-ms  how long a stalled or dead process's peers still count (env P2PCDN_CLUSTER_TTL_MS)
  --max-peers-per-swarm  cluster-wide with --redis, within a second (env P2PCDN_MAX_PEERS_PER_SWARM; default 20000)
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
  --dashboard-token  serve /dashboard and /dashboard.json to requests with this token (HTTP Basic
                 password or Bearer) (env P2PCDN_DASHBOARD_TOKEN; without it they answer 404)
  --stats-bytes-per-second  bytes one socket's stats reports may claim per second; beyond,
                 a report is scaled down (env P2PCDN_STATS_BYTES_PER_SECOND; default 25000000)
  --stats-bytes-per-second-per-ip  the same for all sockets of one address
                 (env P2PCDN_STATS_BYTES_PER_SECOND_PER_IP; default 250000000)
  --max-stats-resources  resources kept apart in the fleet figures, the rest as "(other)"
                 (env P2PCDN_MAX_STATS_RESOURCES; default 1000)
  --shutdown-grace-ms  on SIGINT/SIGTERM, how long HTTP requests in flight may take to finish
                 (env P2PCDN_SHUTDOWN_GRACE_MS; default 5000)
  --cert         PEM certificate chain: serve wss:// and HTTPS (env P2PCDN_CERT); needs --key
  --key          PEM private key for --cert (env P2PCDN_KEY)`

const OPTIONS = {
  'edge-token': { type: 'string' },
  'edges-file': { type: 'string' },
  'allow-edge-token': { type: 'boolean' },
  'edge-challenge': { type: 'string' },
  regions: { type: 'string' },
  geoip: { type: 'string' },
  'geoip-asn': { type: 'string' },
  'trust-proxy': { type: 'boolean' },
  redis: { type: 'string' },
  'cluster-ttl-ms': { type: 'string' },
  'max-peers-per-swarm': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'messages-per-second': { type: 'string' },
  'message-burst': { type: 'string' },
  'messages-per-second-per-ip': { type: 'string' },
  'message-burst-per-ip': { type: 'string' },
  'max-peer-ids-per-ip-per-swarm': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  'max-buffered-bytes-total': { type: 'string' },
  'dashboard-token': { type: 'string' },
  'stats-bytes-per-second': { type: 'string' },
  'stats-bytes-per-second-per-ip': { type: 'string' },
  'max-stats-resources': { type: 'string' }
} as const

/** Run the tracker until SIGINT or SIGTERM; exit codes as service/src/main.ts says. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runService(
    {
      name: 'tracker',
      usage: USAGE,
      options: OPTIONS,
      secrets: ['edge-token', 'dashboard-token'],
      read: readOptions,
      create: (init, logger) => createTracker({ ...init, logger }),
      started: (tracker, init, logger) => {
        if (init.edgeToken === undefined && init.edges === undefined) {
          logger.warn('edge-registration-disabled', {
            reason: 'no --edge-token or --edges-file (P2PCDN_EDGE_TOKEN, P2PCDN_EDGES_FILE)'
          })
        }
        process.stderr.write(`p2pcdn tracker listening on ${tracker.url} (HTTP ${tracker.httpUrl})\n`)
      }
    },
    argv,
    env
  )
}

function readOptions(flags: FlagReader): TrackerInit {
  const challenge = flags.choice('edge-challenge', 'P2PCDN_EDGE_CHALLENGE', ['on', 'off'])
  const regions = flags.jsonFile('regions', 'P2PCDN_REGIONS')
  const edges = flags.jsonFile('edges-file', 'P2PCDN_EDGES_FILE')
  return {
    ...flags.service(),
    edgeToken: flags.string('edge-token', 'P2PCDN_EDGE_TOKEN'),
    edges: edges === undefined ? undefined : readEdges(edges),
    allowSharedEdgeToken: flags.boolean('allow-edge-token', 'P2PCDN_ALLOW_EDGE_TOKEN'),
    edgeChallenge: challenge === undefined ? undefined : challenge === 'on',
    regions: regions as TrackerInit['regions'],
    geoip: geoIpDatabase(flags, 'geoip', 'P2PCDN_GEOIP', 'country'),
    geoipAsn: geoIpDatabase(flags, 'geoip-asn', 'P2PCDN_GEOIP_ASN', 'asn'),
    trustProxy: flags.boolean('trust-proxy', 'P2PCDN_TRUST_PROXY'),
    redisUrl: flags.string('redis', 'P2PCDN_REDIS'),
    clusterTtlMs: flags.integer('cluster-ttl-ms', 'P2PCDN_CLUSTER_TTL_MS'),
    maxPeersPerSwarm: flags.integer('max-peers-per-swarm', 'P2PCDN_MAX_PEERS_PER_SWARM'),
    maxConnectionsPerIp: flags.integer('max-connections-per-ip', 'P2PCDN_MAX_CONNECTIONS_PER_IP'),
    messagesPerSecond: flags.integer('messages-per-second', 'P2PCDN_MESSAGES_PER_SECOND'),
    messageBurst: flags.integer('message-burst', 'P2PCDN_MESSAGE_BURST'),
    messagesPerSecondPerIp: flags.integer('messages-per-second-per-ip', 'P2PCDN_MESSAGES_PER_SECOND_PER_IP'),
    messageBurstPerIp: flags.integer('message-burst-per-ip', 'P2PCDN_MESSAGE_BURST_PER_IP'),
    maxPeerIdsPerIpPerSwarm: flags.integer('max-peer-ids-per-ip-per-swarm', 'P2PCDN_MAX_PEER_IDS_PER_IP_PER_SWARM'),
    maxBufferedBytes: flags.integer('max-buffered-bytes', 'P2PCDN_MAX_BUFFERED_BYTES'),
    maxBufferedBytesTotal: flags.integer('max-buffered-bytes-total', 'P2PCDN_MAX_BUFFERED_BYTES_TOTAL'),
    dashboardToken: flags.string('dashboard-token', 'P2PCDN_DASHBOARD_TOKEN'),
    statsBytesPerSecond: flags.integer('stats-bytes-per-second', 'P2PCDN_STATS_BYTES_PER_SECOND'),
    statsBytesPerSecondPerIp: flags.integer('stats-bytes-per-second-per-ip', 'P2PCDN_STATS_BYTES_PER_SECOND_PER_IP'),
    maxStatsResources: flags.integer('max-stats-resources', 'P2PCDN_MAX_STATS_RESOURCES')
  }
}

/** Opened here, so that a bad file is reported under the flag (or variable) that named it. */
function geoIpDatabase(flags: FlagReader, flag: string, variable: string, kind: GeoIpKind): GeoIpDatabase | undefined {
  const bytes = flags.file(flag, variable)
  return bytes === undefined ? undefined : openGeoIpDatabase(flags.source(flag, variable)!, bytes, kind)
}

/** The `edges` array of `--edges-file`; createTracker validates each entry. */
function readEdges(value: unknown): TrackerInit['edges'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new OptionError('--edges-file', 'expected an object {"edges": [...]}')
  const extra = Object.keys(value).filter(key => key !== 'edges')
  if (extra.length > 0)
    throw new OptionError('--edges-file', `unknown field "${extra[0]?.slice(0, 64)}" (expected only "edges")`)
  const edges = (value as { edges?: unknown }).edges
  if (!Array.isArray(edges)) throw new OptionError('--edges-file', 'expected "edges" to be an array')
  return edges as TrackerInit['edges']
}
