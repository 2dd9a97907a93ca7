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
import { createCdnLoop } from './cdn-loop.js'
import type { Cache } from './cache/cache.js'
import type { EdgeLoad, Logger } from '../../protocol/src/index.js'
import { createDiskStore } from './cache/disk-store.js'
import { createMemoryStore } from './cache/memory-store.js'
import { resolveConfig } from './config.js'
import type { EdgeConfig, EdgeInit } from './config.js'
import { createFiller } from './filler.js'
import type { HandlerContext } from './handlers/context.js'
import { createManifestSigner } from './manifest-signer.js'
import { createMemoryBudget } from './memory-budget.js'
import { createMetrics } from './metrics.js'
import type { EdgeCounters, EdgeMetrics } from './metrics.js'
import { createOriginClient } from './origin.js'
import { createParentSignatures } from './parent-signatures.js'
import type { OriginClient } from './origin.js'
import type { PublicAddress } from './origin-request.js'
import { createEdgeServer } from './server.js'
import type { EdgeServer } from './server.js'
import { createThrottle } from './throttle.js'
import { createTrackerLink } from './tracker-link.js'
import type { TrackerLink } from './tracker-link.js'
import { createLoadSampler } from './load.js'
import { serviceUrl } from '../../service/src/listen.js'
import { AggregatorRegistry } from 'prom-client'
import type { WorkerLink } from './cluster/worker-link.js'

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

/**
 * @param worker set in a worker of `p2pcdn edge --workers N` (`cluster/primary.ts`): the
 * disk index, fill locks, invalidations, metrics and the tracker are the primary's.
 */
export function createEdge(init: EdgeInit, worker?: WorkerLink): Edge {
  return new EdgeNode(resolveConfig(init), worker)
}

/** How often a worker tells the primary its load, for the tracker's heartbeat. */
const LOAD_REPORT_MS = 1000

/** A service object of the same make as the tracker's `TrackerServer`. */
class EdgeNode implements Edge {
  private readonly config: EdgeConfig
  private readonly log: Logger
  private readonly metrics: EdgeMetrics
  private readonly counters: EdgeCounters
  private readonly load: () => EdgeLoad
  private boundPort: number | undefined
  private server: EdgeServer | undefined
  private cache: Cache | undefined
  private link: TrackerLink | undefined
  private origin: OriginClient | undefined
  private accessLog: AccessLog | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined
  private readonly worker: WorkerLink | undefined
  private loadReport: NodeJS.Timeout | undefined

  constructor(config: EdgeConfig, worker?: WorkerLink) {
    this.config = config
    this.worker = worker
    this.log = config.logger
    this.metrics = createMetrics({
      connections: () => this.server?.connections ?? 0,
      memoryBytes: () => this.cache?.memoryBytes ?? 0,
      diskBytes: () => this.cache?.diskBytes ?? 0,
      entries: () => this.cache?.entries ?? 0
    })
    this.counters = this.metrics.counters
    this.load = createLoadSampler(this.counters, () => this.server?.connections ?? 0, config.now)
  }

  get port(): number {
    return this.boundPort ?? this.config.port
  }

  get url(): string {
    const { publicUrl, tls, host } = this.config
    return publicUrl ?? serviceUrl('http', tls !== undefined, host, this.port)
  }

  stats(): EdgeStats {
    return { ...this.counters, connections: this.server?.connections ?? 0 }
  }

  async start(): Promise<void> {
    if (this.stopping !== undefined) throw new Error('edge stopped; create a new one')
    this.starting ??= this.open()
    await this.starting
  }

  async stop(): Promise<void> {
    this.stopping ??= this.close()
    await this.stopping
  }

  private async open(): Promise<void> {
    const { config, log, counters, metrics } = this
    const budget = createMemoryBudget(config.maxMemoryBytes)
    // The stores report evictions to the cache's key index, which they are built before.
    const evicted =
      (from: 'memory' | 'disk') =>
      (id: string): void =>
        this.cache?.evicted(id, from)
    const memory = createMemoryStore({ budget, maxEntries: config.maxEntries, onEvict: evicted('memory') })
    const disk =
      config.cacheDir === undefined
        ? undefined
        : createDiskStore({
            dir: config.cacheDir,
            maxBytes: config.maxDiskBytes,
            maxEntries: config.maxEntries,
            logger: log,
            onEvict: evicted('disk'),
            shared: this.worker?.diskIndex(evicted('disk'))
          })
    const { worker } = this
    const cache = createCache({
      memory,
      disk,
      keyHeaders: config.cacheKeyHeaders,
      logger: log,
      now: config.now,
      onInvalidate: worker?.invalidated
    })
    this.cache = cache
    worker?.onInvalidate(what => cache.invalidated(what))
    worker?.onLearned(item => cache.learnStored(item))
    const found = await cache.open()
    if (disk !== undefined) log.info('cache-opened', { dir: config.cacheDir, entries: found })
    const origin = createOriginClient({
      origin: config.origin,
      upstream: config.parent,
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
    this.origin = origin
    const publicAddress = (): PublicAddress => {
      const pub = new URL(this.url)
      return { host: pub.host, proto: pub.protocol.slice(0, -1) }
    }
    const loop = createCdnLoop()
    const filler = createFiller({
      origin,
      cache,
      budget,
      publicAddress,
      loop,
      chunkSize: config.chunkSize,
      maxObjectBytes: config.maxObjectBytes,
      logger: log,
      now: config.now,
      onOriginFill: kind => {
        if (kind === 'revalidate') counters.revalidations++
      },
      // Another worker's fill is worth waiting for only when its entry can be read from disk.
      lock: disk === undefined ? undefined : worker?.lock
    })
    const signer = config.manifestKey === undefined ? undefined : await createManifestSigner(config.manifestKey)
    if (worker !== undefined) {
      AggregatorRegistry.setRegistries([metrics.registry])
      // Constructing one is what installs prom-client's answer to the primary's requests.
      new AggregatorRegistry()
      this.loadReport = setInterval(() => {
        const { hits, misses, bytesServed } = counters
        worker.reportLoad({ connections: this.server?.connections ?? 0, hits, misses, bytesServed })
      }, LOAD_REPORT_MS).unref()
    }
    const ctx: HandlerContext = {
      config,
      cache,
      origin,
      counters,
      // One worker's /metrics answers for the cluster: the primary gathers every worker's.
      metrics:
        worker === undefined
          ? metrics
          : {
              counters,
              observeOrigin: metrics.observeOrigin,
              render: worker.metrics,
              registry: metrics.registry,
              contentType: metrics.contentType
            },
      throttle: config.maxBytesPerSec === undefined ? undefined : createThrottle(config.maxBytesPerSec),
      log,
      filler,
      signer,
      parentSignatures:
        signer === undefined && config.parent !== undefined
          ? createParentSignatures({ parent: origin, loop, logger: log })
          : undefined,
      publicAddress,
      loop,
      now: config.now
    }
    if (config.accessLog !== undefined) this.accessLog = createAccessLog(config.accessLog)
    const server = createEdgeServer(
      ctx,
      bound => {
        this.boundPort = bound
        return [config.origin.origin, new URL(this.url).origin]
      },
      this.accessLog
    )
    this.server = server
    this.boundPort = await server.listen(config.port, config.host)
    log.info('listening', {
      url: this.url,
      origin: config.origin.origin,
      ...(config.parent === undefined ? {} : { parent: config.parent.origin }),
      region: config.region,
      ...(ctx.signer === undefined ? {} : { manifestKeyId: ctx.signer.keyId })
    })

    const credential = config.edgeSecret ?? config.edgeToken
    // A worker's tracker link is the primary's, one for the whole cluster.
    if (worker !== undefined) return
    if (config.tracker !== undefined && credential !== undefined) {
      this.link = createTrackerLink({
        tracker: config.tracker,
        ca: config.trackerCa,
        id: config.edgeId,
        token: credential,
        url: this.url,
        region: config.region,
        capacity: 0,
        load: this.load,
        logger: log
      })
      this.link.start()
    } else if (config.tracker !== undefined) {
      log.warn('tracker-without-token', { tracker: config.tracker })
    }
  }

  private async close(): Promise<void> {
    // Let a start() in flight finish first, or what it opens would outlive the edge.
    await this.starting?.catch(() => {})
    // Off the tracker's list first, so no new client is sent here while downloads drain.
    this.link?.stop()
    clearInterval(this.loadReport)
    const drained = await this.server?.close(this.config.shutdownGraceMs)
    if (drained !== undefined && drained.cut > 0)
      this.log.warn('downloads-cut', { connections: drained.cut, afterMs: this.config.shutdownGraceMs })
    this.accessLog?.flush()
    await this.origin?.close()
    await this.cache?.close()
    this.log.info('stopped', {})
  }
}
