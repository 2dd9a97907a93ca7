/**
 * Wiring: one HTTP server carrying both the WebSocket tracker and the JSON endpoints,
 * per-socket lifecycle, and the two timers (dead-socket pings, edge expiry).
 */
import type { IncomingMessage, RequestListener, Server as HttpServer } from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import type { RawData } from 'ws'
import { MAX_MESSAGE_BYTES } from '../../protocol/src/index.js'
import { listen, serviceUrl } from '../../service/src/listen.js'
import type { ScrapeMetrics } from '../../service/src/metrics.js'
import { trackConnections } from '../../service/src/shutdown.js'
import type { ConnectionTracker } from '../../service/src/shutdown.js'
import { createServiceServer } from '../../service/src/tls.js'
import type { Cluster } from './cluster.js'
import { EDGE_MISSED_HEARTBEATS } from './config.js'
import type { TrackerConfig } from './config.js'
import { addressKey } from './address-key.js'
import { SendBacklog } from './backlog.js'
import type { BacklogDropReason } from './backlog.js'
import { createBucket, refill } from './budget.js'
import type { AddressState, Connection } from './connection.js'
import { forgetPeer, listPeerIds } from './connection.js'
import { createEdgeChallenger } from './edge-challenge.js'
import { EdgeRegistry } from './edge-registry.js'
import { deliverLocal } from './handlers/announce-cluster.js'
import { announceReplyHead, createLoggers } from './handlers/context.js'
import type { TrackerContext } from './handlers/context.js'
import { replyFailure } from './handlers/failure.js'
import { handleMessage } from './handlers/handle-message.js'
import { handleHttpRequest } from './handlers/http.js'
import { StatsBudgets } from './stats-budgets.js'
import { FleetStats } from './fleet-stats.js'
import { TrackerMetrics, createTrackerMetrics } from './metrics.js'
import { peerIdTaken } from './refusal.js'
import { SocketConnection } from './socket-connection.js'
import { Swarms } from './swarm.js'
import { TurnCork } from './turn-cork.js'

/** A running (or runnable) tracker. */
export interface Tracker {
  /** Listen on `host:port`. Rejects if the port is taken. */
  start: () => Promise<void>
  /** Close every socket with code 1001, then the server. Safe to call twice. */
  stop: () => Promise<void>
  /** The bound port once started (the configured one before). */
  readonly port: number
  /** `ws://host:port` (`wss://` with `tls`), the announce URL. */
  readonly url: string
  /** `http://host:port` (`https://` with `tls`), for `/healthz`, `/edges` and `/stats`. */
  readonly httpUrl: string
}

/** WebSocket close code "going away": the tracker is shutting down. */
const CLOSE_GOING_AWAY = 1001
/** WebSocket close code "policy violation": too many connections from one address. */
const CLOSE_POLICY_VIOLATION = 1008
/** How long `stop()` waits for clients to answer the close handshake, in ms. */
const CLOSE_GRACE_MS = 1000
/**
 * Each socket is pinged once per `pingIntervalMs`, a slice of them every this many ms:
 * one ping is a syscall (about 23 µs here), and pinging 5,000 sockets at once held the
 * event loop for about 110 ms (the bench's 1,000 announces/s open loop saw its p99 jump
 * to 160 ms whenever it happened). At 30 s that is 300 slices, 17 of 5,000 sockets each.
 */
const PING_TICK_MS = 100
/** In cluster mode, fleet figures are stored at most this long after a report changed them. */
const FLEET_PUBLISH_DELAY_MS = 1000

/** The context with `cluster` settable, which happens once in `start()`. */
type MutableContext = { -readonly [K in keyof TrackerContext]: TrackerContext[K] }

export class TrackerServer implements Tracker {
  private readonly config: TrackerConfig
  private readonly ctx: MutableContext
  private readonly scrape: ScrapeMetrics
  private readonly connections = new Map<WebSocket, SocketConnection>()
  /** Per-address state by address key: open sockets and the shared message budget. */
  private readonly addresses = new Map<string, AddressState>()
  /**
   * Addresses with no socket open, kept until their budget has refilled: otherwise
   * closing every socket and reconnecting would hand an address a fresh budget.
   */
  private readonly idleAddresses = new Set<AddressState>()
  private readonly turnCork = new TurnCork()
  private readonly backlog: SendBacklog<SocketConnection>
  private http: HttpServer | undefined
  private httpConnections: ConnectionTracker | undefined
  private wss: WebSocketServer | undefined
  private timers: NodeJS.Timeout[] = []
  private boundPort: number | undefined
  private nextConnectionId = 1
  /** Which slice of the sockets (by connection id) the next ping tick covers, of `pingSlices`. */
  private pingSlice = 0
  private readonly pingSlices: number
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined

  constructor(config: TrackerConfig) {
    this.config = config
    this.pingSlices = Math.max(1, Math.round(config.pingIntervalMs / PING_TICK_MS))
    this.ctx = {
      config,
      swarms: new Swarms<Connection>(config.maxPeersPerSwarm, config.maxPeerIdsPerIpPerSwarm),
      edges: new EdgeRegistry<Connection>(EDGE_MISSED_HEARTBEATS * config.edgeHeartbeatMs, config.maxEdgesPerId),
      edgeChallenger: createEdgeChallenger({
        timeoutMs: config.edgeChallengeTimeoutMs,
        maxConcurrent: config.maxConcurrentEdgeChallenges
      }),
      metrics: new TrackerMetrics(),
      fleet: new FleetStats({ maxResources: config.maxStatsResources, now: config.now }),
      statsBudgets: new StatsBudgets(),
      cluster: undefined,
      announceReplyHead: announceReplyHead(config),
      log: createLoggers(config.logger),
      now: config.now
    }
    this.backlog = new SendBacklog<SocketConnection>({
      maxPerSocketBytes: config.maxBufferedBytes,
      maxTotalBytes: config.maxBufferedBytesTotal,
      stallMs: config.pingIntervalMs,
      drop: (conn, reason, bytes) => this.drop(conn, reason, bytes),
      now: () => this.ctx.now()
    })
    this.scrape = createTrackerMetrics({
      metrics: this.ctx.metrics,
      sockets: () => this.connections.size,
      backlogBytes: () => this.backlog.totalBytes,
      peers: () => {
        let n = 0
        for (const swarm of this.ctx.swarms.values()) n += swarm.size
        return n
      },
      swarms: () => this.ctx.swarms.size,
      edges: () => this.ctx.edges.list(undefined, this.ctx.now()).length,
      geoipErrors: () => this.config.geoip.errors,
      fleet: this.ctx.fleet
    })
  }

  get port(): number {
    return this.boundPort ?? this.config.port
  }

  get url(): string {
    return serviceUrl('ws', this.config.tls !== undefined, this.config.host, this.port)
  }

  get httpUrl(): string {
    return serviceUrl('http', this.config.tls !== undefined, this.config.host, this.port)
  }

  start(): Promise<void> {
    if (this.stopping !== undefined) return Promise.reject(new Error('tracker was stopped; create a new one'))
    this.starting ??= this.listen()
    return this.starting
  }

  stop(): Promise<void> {
    this.stopping ??= this.close()
    return this.stopping
  }

  private async listen(): Promise<void> {
    if (this.config.redisUrl !== undefined) await this.joinCluster(this.config.redisUrl)
    const sources = { connections: () => this.connections.size, metrics: this.scrape }
    const onRequest: RequestListener = (req, res) => {
      handleHttpRequest(this.ctx, sources, req, res)
    }
    const http = createServiceServer(this.config.tls, onRequest)
    this.httpConnections = trackConnections(http, this.config.tls !== undefined)
    // Signalling messages are a few KiB; ws would otherwise accept 100 MiB frames.
    const wss = new WebSocketServer({ server: http, maxPayload: MAX_MESSAGE_BYTES, clientTracking: false })
    wss.on('connection', (socket, req) => this.onConnection(socket, req))
    wss.on('error', err => this.ctx.log.server.error('server-error', { error: err.message }))
    this.http = http
    this.wss = wss

    this.boundPort = (await listen(http, this.config.port, this.config.host)).port
    this.timers.push(
      setInterval(() => this.pingSockets(), this.config.pingIntervalMs / this.pingSlices),
      setInterval(() => this.sweepEdges(), this.config.edgeHeartbeatMs)
    )
    for (const timer of this.timers) timer.unref()
    this.ctx.log.server.info('listening', { url: this.url, httpUrl: this.httpUrl })
  }

  /** Loaded only with `redisUrl`, so a single process needs nothing but Node. */
  private async joinCluster(redisUrl: string): Promise<void> {
    const { RedisCluster } = await import('./redis-cluster.js')
    const cluster: Cluster = new RedisCluster(redisUrl, this.config, this.ctx.log.cluster)
    await cluster.start(
      (infoHash, peerId, text) => deliverLocal(this.ctx, infoHash, peerId, text),
      (infoHash, peerId) => this.dropLostPeer(infoHash, peerId)
    )
    this.ctx.cluster = cluster
    // Stored again well within its expiry, and soon after figures change, so that the
    // other processes' dashboards lag by about a second, not by the refresh period.
    const publish = (): void => cluster.publishFleet(this.ctx.fleet.snapshot())
    publish()
    this.ctx.fleet.onChange(publish, FLEET_PUBLISH_DELAY_MS)
    const timer = setInterval(publish, Math.max(50, Math.floor(this.config.clusterTtlMs / 3)))
    timer.unref()
    this.timers.push(timer)
  }

  /** Another live process holds this id now (see `LostFn`): forget it here and tell the socket. */
  private dropLostPeer(infoHash: string, peerId: string): void {
    const swarm = this.ctx.swarms.get(infoHash)
    const peer = swarm?.get(peerId)
    if (swarm === undefined || peer === undefined) return
    swarm.remove(peerId, peer.handle)
    forgetPeer(peer.handle, infoHash, peerId)
    this.ctx.swarms.deleteIfEmpty(swarm)
    replyFailure(this.ctx, peer.handle, peerIdTaken(), { action: 'announce', info_hash: infoHash })
    this.ctx.log.cluster.warn('peer-lost', { conn: peer.handle.id })
  }

  private onConnection(socket: WebSocket, req: IncomingMessage): void {
    const ip = clientAddress(req, this.config.trustProxy)
    const address = this.address(ip)
    if (address.connections >= this.config.maxConnectionsPerIp) {
      this.ctx.metrics.reject('too-many-connections')
      this.ctx.log.server.info('connection-refused', { ip, reason: 'too many connections from this address' })
      socket.close(CLOSE_POLICY_VIOLATION, 'too many connections from this address')
      return
    }
    address.connections++
    this.idleAddresses.delete(address)
    const now = this.ctx.now()
    // Once per socket: every peer of the socket shares its address, so its region and network.
    const place = this.config.geoip.lookup(ip)
    const conn = new SocketConnection(
      socket,
      req.socket,
      this.turnCork,
      this.backlog,
      this.nextConnectionId++,
      ip,
      address,
      this.config.regions.regionOf(ip, place),
      place.asn,
      createBucket(this.config.messageBurst, now)
    )
    this.connections.set(socket, conn)
    this.ctx.statsBudgets.opened(conn, now)
    this.ctx.log.server.debug('socket-open', { conn: conn.id, ip, region: conn.mappedRegion, asn: conn.asn })

    socket.on('message', data => {
      conn.alive = true
      // Binary frames are read as UTF-8 JSON too, as bittorrent-tracker does.
      handleMessage(this.ctx, conn, rawToBuffer(data))
    })
    socket.on('pong', () => {
      conn.alive = true
    })
    // ws follows every 'error' (e.g. a frame over maxPayload) with 'close'.
    socket.on('error', err => this.ctx.log.server.debug('socket-error', { conn: conn.id, error: err.message }))
    socket.on('close', code => this.onClose(socket, conn, code))
  }

  /** The state of the address `ip` counts under, created on first use. */
  private address(ip: string): AddressState {
    const key = addressKey(ip)
    let address = this.addresses.get(key)
    if (address === undefined) {
      address = { key, connections: 0, bucket: createBucket(this.config.messageBurstPerIp, this.ctx.now()) }
      this.addresses.set(key, address)
    }
    return address
  }

  /** A closed socket leaves every swarm it announced in, and unregisters its edge. */
  private onClose(socket: WebSocket, conn: SocketConnection, code: number): void {
    this.connections.delete(socket)
    this.backlog.forget(conn)
    if (--conn.address.connections <= 0) this.idleAddresses.add(conn.address)
    const left = this.leaveEverything(conn)
    this.ctx.log.server.debug('socket-close', { conn: conn.id, code, peersRemoved: left })
  }

  /**
   * Drop a socket that does not keep up with what it is sent: out of every swarm at once
   * (so no further offer is chosen for it), then terminated without a close handshake,
   * which would only queue behind its backlog.
   */
  private drop(conn: SocketConnection, reason: BacklogDropReason, bytes: number): void {
    this.ctx.metrics.reject(reason)
    this.ctx.log.server.info('socket-dropped', { conn: conn.id, ip: conn.ip, reason, bufferedBytes: bytes })
    this.leaveEverything(conn)
    conn.socket.terminate()
  }

  /** Leave every swarm and unregister the edge; returns the peers removed. Safe to call twice. */
  private leaveEverything(conn: Connection): number {
    const cluster = this.ctx.cluster
    let left = 0
    for (const [infoHash, peerIds] of conn.swarms) {
      const swarm = this.ctx.swarms.get(infoHash)
      if (swarm === undefined) continue
      for (const peerId of listPeerIds(peerIds)) {
        const region = swarm.get(peerId)?.region
        if (region !== undefined && swarm.remove(peerId, conn)) {
          left++
          void cluster?.peerLeft(infoHash, peerId, region)
        }
      }
      this.ctx.swarms.deleteIfEmpty(swarm)
    }
    conn.swarms.clear()
    const edge = this.ctx.edges.remove(conn)
    if (edge !== undefined) {
      cluster?.edgeRemoved(edge.url)
      this.ctx.log.edges.info('edge-removed', { conn: conn.id, url: edge.url, reason: 'socket closed' })
    }
    return left
  }

  /**
   * Dead-socket detection from the ws README ("How to detect and close broken
   * connections?"): a socket that did not answer the previous ping is terminated.
   */
  private pingSockets(): void {
    const slice = this.pingSlice
    this.pingSlice = (slice + 1) % this.pingSlices
    // A socket can answer pings now and then and still not read: the backlog is what counts.
    this.backlog.sweep()
    this.forgetIdleAddresses()
    for (const [socket, conn] of this.connections) {
      if (conn.id % this.pingSlices !== slice) continue
      if (!conn.alive) {
        this.ctx.log.server.debug('socket-dead', { conn: conn.id })
        socket.terminate()
        continue
      }
      conn.alive = false
      socket.ping()
    }
  }

  /** Addresses with no socket left whose budget is full again carry no state worth keeping. */
  private forgetIdleAddresses(): void {
    if (this.idleAddresses.size === 0) return
    const now = this.ctx.now()
    const { messagesPerSecondPerIp, messageBurstPerIp } = this.config
    for (const address of this.idleAddresses) {
      refill(address.bucket, now, messagesPerSecondPerIp, messageBurstPerIp)
      if (address.bucket.level < messageBurstPerIp) continue
      this.idleAddresses.delete(address)
      this.addresses.delete(address.key)
    }
  }

  private sweepEdges(): void {
    for (const edge of this.ctx.edges.sweep(this.ctx.now())) {
      this.ctx.log.edges.warn('edge-dropped', { url: edge.url, region: edge.region, reason: 'missed heartbeats' })
    }
  }

  private async close(): Promise<void> {
    // Let a start() in flight finish first, or its timers would outlive the tracker.
    await this.starting?.catch(() => {})
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    this.ctx.fleet.onChange(undefined, 0)
    // Stop accepting first, so no client reconnects to a tracker on its way out.
    const closed = this.httpConnections?.close(this.config.shutdownGraceMs)
    const sockets = [...this.connections.keys()]
    await Promise.all(sockets.map(closeGracefully))
    this.wss?.close()
    await closed
    await this.ctx.cluster?.stop()
    this.ctx.log.server.info('stopped', { sockets: sockets.length })
  }
}

/** Close with 1001 and wait for the handshake; terminate a client that does not answer. */
function closeGracefully(socket: WebSocket): Promise<void> {
  return new Promise(resolve => {
    if (socket.readyState === WebSocket.CLOSED) {
      resolve()
      return
    }
    const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.close(CLOSE_GOING_AWAY, 'tracker shutting down')
  })
}

/**
 * The client's address. Behind our own reverse proxy, the last `X-Forwarded-For` entry is
 * the one that proxy appended; earlier entries come from the client and may be forged.
 */
function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const direct = req.socket.remoteAddress ?? 'unknown'
  if (!trustProxy) return direct
  const header = req.headers['x-forwarded-for']
  const value = Array.isArray(header) ? header.join(',') : header
  if (value === undefined) return direct
  const last = value.split(',').pop()?.trim()
  return last === undefined || last === '' ? direct : last
}

function rawToBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return Buffer.from(data)
  return data
}
