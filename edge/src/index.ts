/**
 * The p2pcdn edge: a caching reverse proxy for one origin that builds chunk manifests
 * while it fills, serves the browser SDK, and registers with a tracker.
 *
 * @example
 * ```ts
 * const edge = createEdge({ origin: 'http://127.0.0.1:8080', port: 0, region: 'eu' })
 * await edge.start()
 * console.log(edge.url) // http://127.0.0.1:54321
 * await edge.stop()
 * ```
 */
import { createAccessLog } from './access-log.js'
import type { AccessLog } from './access-log.js'
import { createCache } from './cache/cache.js'
import type { Cache } from './cache/cache.js'
import { createDiskStore } from './cache/disk-store.js'
import { createMemoryStore } from './cache/memory-store.js'
import { resolveConfig } from './config.js'
import type { EdgeInit } from './config.js'
import { createFiller } from './filler.js'
import type { HandlerContext } from './handlers/context.js'
import { createManifestSigner } from './manifest-signer.js'
import { createMemoryBudget } from './memory-budget.js'
import { createMetrics } from './metrics.js'
import type { EdgeCounters } from './metrics.js'
import { createOriginClient } from './origin.js'
import type { OriginClient } from './origin.js'
import type { PublicAddress } from './origin-request.js'
import { createEdgeServer } from './server.js'
import type { EdgeServer } from './server.js'
import { createThrottle } from './throttle.js'
import { createTrackerLink } from './tracker-link.js'
import type { TrackerLink } from './tracker-link.js'
import { createLoadSampler } from './load.js'
import { serviceUrl } from '../../service/src/listen.js'

export type { EdgeInit, EdgeConfig } from './config.js'
export { DEFAULT_EDGE_CONFIG, resolveConfig } from './config.js'

export interface EdgeStats extends EdgeCounters {
  /** Open client connections. */
  connections: number
}

export interface Edge {
  /** Open the cache, listen, and register with the tracker when one is configured. */
  start: () => Promise<void>
  /**
   * Leave the tracker, stop accepting, let downloads in flight finish (for up to
   * `shutdownGraceMs`, then cut them), and flush disk writes. Safe to call twice.
   */
  stop: () => Promise<void>
  /** The port listened on (the configured one until `start()` resolves). */
  readonly port: number
  /** Public base URL, without a trailing slash. */
  readonly url: string
  stats: () => EdgeStats
}

export function createEdge(init: EdgeInit): Edge {
  const config = resolveConfig(init)
  const log = config.logger
  let port = config.port
  let server: EdgeServer | undefined
  let cache: Cache | undefined
  let link: TrackerLink | undefined
  let origin: OriginClient | undefined
  let accessLog: AccessLog | undefined
  const metrics = createMetrics({
    connections: () => server?.connections ?? 0,
    memoryBytes: () => cache?.memoryBytes ?? 0,
    diskBytes: () => cache?.diskBytes ?? 0,
    entries: () => cache?.entries ?? 0
  })
  const counters: EdgeCounters = metrics.counters
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined

  const url = (): string => config.publicUrl ?? serviceUrl('http', config.tls !== undefined, config.host, port)
  const load = createLoadSampler(counters, () => server?.connections ?? 0, config.now)

  async function doStart(): Promise<void> {
    const budget = createMemoryBudget(config.maxMemoryBytes)
    // The stores report evictions to the cache's key index, which they are built before.
    const evicted =
      (from: 'memory' | 'disk') =>
      (id: string): void =>
        cache?.evicted(id, from)
    const memory = createMemoryStore({ budget, maxEntries: config.maxEntries, onEvict: evicted('memory') })
    const disk =
      config.cacheDir === undefined
        ? undefined
        : createDiskStore({
            dir: config.cacheDir,
            maxBytes: config.maxDiskBytes,
            maxEntries: config.maxEntries,
            logger: log,
            onEvict: evicted('disk')
          })
    cache = createCache({ memory, disk, keyHeaders: config.cacheKeyHeaders, logger: log, now: config.now })
    const found = await cache.open()
    if (disk !== undefined) log.info('cache-opened', { dir: config.cacheDir, entries: found })
    origin = createOriginClient({
      origin: config.origin,
      connections: config.originConnections,
      connectTimeoutMs: config.originConnectTimeoutMs,
      headersTimeoutMs: config.originHeadersTimeoutMs,
      bodyTimeoutMs: config.originBodyTimeoutMs,
      maxQueuedPerClient: config.maxOriginQueuePerClient,
      onResponse: (status, seconds) => {
        counters.originRequests++
        metrics.observeOrigin(status, seconds)
      }
    })
    const publicAddress = (): PublicAddress => {
      const pub = new URL(url())
      return { host: pub.host, proto: pub.protocol.slice(0, -1) }
    }
    const filler = createFiller({
      origin,
      cache,
      budget,
      publicAddress,
      chunkSize: config.chunkSize,
      maxObjectBytes: config.maxObjectBytes,
      logger: log,
      now: config.now,
      onOriginFill: kind => {
        if (kind === 'revalidate') counters.revalidations++
      }
    })
    const ctx: HandlerContext = {
      config,
      cache,
      origin,
      counters,
      metrics,
      throttle: config.maxBytesPerSec === undefined ? undefined : createThrottle(config.maxBytesPerSec),
      log,
      filler,
      signer: config.manifestKey === undefined ? undefined : await createManifestSigner(config.manifestKey),
      publicAddress,
      now: config.now
    }
    if (config.accessLog !== undefined) accessLog = createAccessLog(config.accessLog)
    server = createEdgeServer(
      ctx,
      bound => {
        port = bound
        return [config.origin.origin, new URL(url()).origin]
      },
      accessLog
    )
    port = await server.listen(config.port, config.host)
    log.info('listening', {
      url: url(),
      origin: config.origin.origin,
      region: config.region,
      ...(ctx.signer === undefined ? {} : { manifestKeyId: ctx.signer.keyId })
    })

    const credential = config.edgeSecret ?? config.edgeToken
    if (config.tracker !== undefined && credential !== undefined) {
      link = createTrackerLink({
        tracker: config.tracker,
        ca: config.trackerCa,
        id: config.edgeId,
        token: credential,
        url: url(),
        region: config.region,
        capacity: 0,
        load,
        logger: log
      })
      link.start()
    } else if (config.tracker !== undefined) {
      log.warn('tracker-without-token', { tracker: config.tracker })
    }
  }

  async function doStop(): Promise<void> {
    await starting?.catch(() => {})
    // Off the tracker's list first, so no new client is sent here while downloads drain.
    link?.stop()
    const drained = await server?.close(config.shutdownGraceMs)
    if (drained !== undefined && drained.cut > 0)
      log.warn('downloads-cut', { connections: drained.cut, afterMs: config.shutdownGraceMs })
    accessLog?.flush()
    await origin?.close()
    await cache?.close()
    log.info('stopped', {})
  }

  return {
    get port() {
      return port
    },
    get url() {
      return url()
    },
    stats: () => ({ ...counters, connections: server?.connections ?? 0 }),
    async start() {
      if (stopping !== undefined) throw new Error('edge stopped; create a new one')
      starting ??= doStart()
      await starting
    },
    async stop() {
      stopping ??= doStop()
      await stopping
    }
  }
}
