/**
 * The primary of `p2pcdn edge --workers N` (node:cluster): forks N workers that share
 * the listening port, restarts one that dies, stops them all on SIGINT/SIGTERM, and is the
 * one member the tracker sees (a single registration, with the workers' load summed).
 * It holds what the workers share: the disk index (so `--max-disk-bytes` holds for the
 * folder as a whole), one fill lock per object (so N workers missing it cost the origin
 * about one request), the passing on of invalidations, and `/metrics` summed over the
 * workers (prom-client's `AggregatorRegistry`).
 */
import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { AggregatorRegistry } from 'prom-client'
import { errorMessageOf } from '../../../protocol/src/index.js'
import type { Logger } from '../../../protocol/src/index.js'
import { serviceUrl } from '../../../service/src/listen.js'
import { ScrapeMetrics } from '../../../service/src/metrics.js'
import { createDiskIndex } from '../cache/disk-index.js'
import type { DiskIndex } from '../cache/disk-index.js'
import { fileNameFor, removeTempFiles, scanDiskDir } from '../cache/disk-store.js'
import { resolveConfig } from '../config.js'
import type { EdgeConfig, EdgeInit } from '../config.js'
import { createLoadSampler } from '../load.js'
import type { EdgeCounters } from '../metrics.js'
import { createTrackerLink } from '../tracker-link.js'
import type { TrackerLink } from '../tracker-link.js'
import { parseWorkerMessage } from './messages.js'
import type { PrimaryMessage, WorkerLoad, WorkerMessage } from './messages.js'

/** A worker that dies sooner than this after starting is restarted only after this long: no crash loop at full speed. */
const RESTART_DELAY_MS = 1000
/** Beyond the drain's grace, how long a stopping worker may take to exit before SIGKILL. */
const STOP_MARGIN_MS = 5000

export interface EdgeCluster {
  start: () => Promise<void>
  stop: () => Promise<void>
  readonly url: string
  readonly port: number
  /** Process ids of the workers running now. */
  readonly pids: number[]
}

interface Slot {
  worker: Worker
  startedAt: number
  listening: boolean
  load: WorkerLoad
}

export function createEdgeCluster(init: EdgeInit, workers: number, logger: Logger): EdgeCluster {
  // Validate here too, so a bad option fails before anything is forked.
  const config: EdgeConfig = resolveConfig({ ...init, logger })
  const log = logger
  const slots = new Map<number, Slot>()
  let port = config.port
  let stopping = false
  let restarts = 0
  let disk: DiskIndex | undefined
  let link: TrackerLink | undefined
  const aggregator = new AggregatorRegistry()
  const own = new ScrapeMetrics()
  own.gauge('p2pcdn_edge_workers', 'Worker processes running', () => slots.size)
  own.counter('p2pcdn_edge_worker_restarts_total', 'Workers restarted after dying', () => restarts)

  /** id → the worker filling it, and who waits for that fill. */
  const locks = new Map<string, { holder: number; waiters: Array<{ worker: number; seq: number }> }>()

  const sendTo = (id: number, msg: PrimaryMessage): void => {
    const w = slots.get(id)?.worker
    if (w !== undefined && w.isConnected()) w.send(msg)
  }
  const broadcast = (msg: PrimaryMessage, except?: number): void => {
    for (const id of slots.keys()) if (id !== except) sendTo(id, msg)
  }
  const diskCounts = (): { bytes: number; entries: number } => ({ bytes: disk?.bytes ?? 0, entries: disk?.size ?? 0 })

  const unlock = (id: string, holder: number): void => {
    const lock = locks.get(id)
    if (lock === undefined || lock.holder !== holder) return
    locks.delete(id)
    // They look on disk, where the holder's entry now is (or fill themselves, if it is not).
    for (const w of lock.waiters) sendTo(w.worker, { t: 'p2pcdn:locked', seq: w.seq, leader: false })
  }
  /** A holder that died: its first waiter fills instead. */
  const releaseAllOf = (holder: number): void => {
    for (const [id, lock] of locks) {
      if (lock.holder !== holder) continue
      const next = lock.waiters.shift()
      if (next === undefined) {
        locks.delete(id)
        continue
      }
      lock.holder = next.worker
      sendTo(next.worker, { t: 'p2pcdn:locked', seq: next.seq, leader: true })
    }
    for (const lock of locks.values()) lock.waiters = lock.waiters.filter(w => w.worker !== holder)
  }

  const onMessage = (id: number, raw: unknown): void => {
    const msg = parseWorkerMessage(raw)
    if (msg === undefined) return
    void handle(id, msg).catch((err: unknown) =>
      log.error('cluster-message-failed', { worker: id, type: msg.t, error: errorMessageOf(err) })
    )
  }
  const handle = async (id: number, msg: WorkerMessage): Promise<void> => {
    switch (msg.t) {
      case 'p2pcdn:open': {
        const records = disk?.records() ?? []
        sendTo(id, {
          t: 'p2pcdn:opened',
          seq: msg.seq,
          items: records.map(({ key, variant, vary }) => ({ key, variant, vary })),
          ...diskCounts()
        })
        return
      }
      case 'p2pcdn:added':
        if (disk === undefined) return
        await disk.added(msg.record)
        if (disk.has(msg.record.id)) {
          const { key, variant, vary } = msg.record
          broadcast({ t: 'p2pcdn:learned', item: { key, variant, vary }, ...diskCounts() }, id)
        }
        return
      case 'p2pcdn:touched':
        disk?.touched(msg.record.id, msg.record)
        return
      case 'p2pcdn:removed':
        disk?.removed(msg.id)
        return
      case 'p2pcdn:lock': {
        const lock = locks.get(msg.id)
        if (lock === undefined) {
          locks.set(msg.id, { holder: id, waiters: [] })
          sendTo(id, { t: 'p2pcdn:locked', seq: msg.seq, leader: true })
        } else lock.waiters.push({ worker: id, seq: msg.seq })
        return
      }
      case 'p2pcdn:unlock':
        unlock(msg.id, id)
        return
      case 'p2pcdn:metrics': {
        const text = `${await aggregator.clusterMetrics()}${await own.render()}`
        sendTo(id, { t: 'p2pcdn:metrics', seq: msg.seq, text })
        return
      }
      case 'p2pcdn:invalidate':
        broadcast({ t: 'p2pcdn:invalidate', what: msg.what }, id)
        return
      case 'p2pcdn:load': {
        const slot = slots.get(id)
        if (slot !== undefined) slot.load = msg.load
      }
    }
  }

  // The tracker sees one edge: the workers' counters summed, sampled per heartbeat.
  const summed: EdgeCounters = { hits: 0, misses: 0, stale: 0, revalidations: 0, originRequests: 0, bytesServed: 0 }
  const connections = (): number => [...slots.values()].reduce((n, s) => n + s.load.connections, 0)
  const sampler = createLoadSampler(summed, connections, config.now)
  const load = (): ReturnType<typeof sampler> => {
    summed.hits = summed.misses = summed.bytesServed = 0
    for (const s of slots.values()) {
      summed.hits += s.load.hits
      summed.misses += s.load.misses
      summed.bytesServed += s.load.bytesServed
    }
    return sampler()
  }

  let listened: ((port: number) => void) | undefined
  let failed: ((err: Error) => void) | undefined
  const fork = (): void => {
    const worker = cluster.fork()
    const slot: Slot = {
      worker,
      startedAt: Date.now(),
      listening: false,
      load: { connections: 0, bytesServed: 0, hits: 0, misses: 0 }
    }
    slots.set(worker.id, slot)
    worker.on('message', (raw: unknown) => onMessage(worker.id, raw))
    worker.once('listening', (address: { port: number }) => {
      slot.listening = true
      listened?.(address.port)
    })
    worker.once('exit', (code: number | null, signal: string | null) => {
      slots.delete(worker.id)
      releaseAllOf(worker.id)
      const pid = worker.process.pid
      // Its half-written files: no one else will finish or remove them. The replacement starts after.
      const cleaned =
        config.cacheDir !== undefined && pid !== undefined
          ? removeTempFiles(config.cacheDir, pid).catch(() => 0)
          : Promise.resolve(0)
      if (stopping) return
      // At start, a worker that cannot listen (a taken port) fails the start; later, it is one more death.
      if (!slot.listening && listened !== undefined) {
        failed?.(new Error(`worker ${worker.id} exited (${signal ?? String(code)}) before listening`))
        return
      }
      restarts++
      log.error('worker-died', { worker: worker.id, pid, code, signal })
      const alive = Date.now() - slot.startedAt
      setTimeout(
        () =>
          void cleaned.then(() => {
            if (stopping) return
            fork()
            log.info('worker-restarted', { workers: slots.size })
          }),
        alive < RESTART_DELAY_MS || !slot.listening ? RESTART_DELAY_MS : 0
      ).unref()
    })
  }

  const url = (): string => config.publicUrl ?? serviceUrl('http', config.tls !== undefined, config.host, port)

  return {
    get url() {
      return url()
    },
    get port() {
      return port
    },
    get pids() {
      return [...slots.values()].flatMap(s => (s.worker.process.pid === undefined ? [] : [s.worker.process.pid]))
    },
    async start() {
      if (config.cacheDir !== undefined) {
        const dir = config.cacheDir
        // The one scan of the folder, before any worker writes to it.
        disk = createDiskIndex({
          maxBytes: config.maxDiskBytes,
          maxEntries: config.maxEntries,
          scan: async () => await scanDiskDir(dir, log),
          unlink: async id => await unlink(join(dir, fileNameFor(id))).catch(() => {}),
          onEvict: id => broadcast({ t: 'p2pcdn:evicted', id, ...diskCounts() })
        })
        const found = await disk.open()
        log.info('cache-opened', { dir, entries: found.length })
      }
      await new Promise<void>((resolve, reject) => {
        let up = 0
        listened = bound => {
          port = bound
          if (++up === workers) resolve()
        }
        failed = reject
        for (let i = 0; i < workers; i++) fork()
      })
      listened = undefined
      log.info('workers-listening', { url: url(), workers, pids: this.pids.join(',') })

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
    },
    async stop() {
      if (stopping) return
      stopping = true
      // Off the tracker's list first, as a single edge does.
      link?.stop()
      const exits = [...slots.values()].map(
        ({ worker }) =>
          new Promise<void>(resolve => {
            if (worker.isDead()) {
              resolve()
              return
            }
            worker.once('exit', () => resolve())
            const kill = setTimeout(() => worker.process.kill('SIGKILL'), config.shutdownGraceMs + STOP_MARGIN_MS)
            worker.once('exit', () => clearTimeout(kill))
            // A message rather than a signal: a worker that got the terminal's SIGINT too must not take a second signal's default.
            if (worker.isConnected()) worker.send({ t: 'p2pcdn:stop' } satisfies PrimaryMessage)
            else worker.process.kill('SIGTERM')
          })
      )
      await Promise.all(exits)
      log.info('stopped', { workers })
    }
  }
}
