/**
 * Fleet statistics: what the SDKs report (`p2pcdn:stats`), summed across visitors. Every
 * table is bounded: resources, regions and swarms are kept least recently reported first
 * out, and what leaves a table is folded into its OTHER row, so the totals stay whole.
 * Figures are self-reported by browsers (see handlers/stats.ts for how they are clamped).
 */
import { BYTE_SOURCES, HTTP_REASONS, emptyReasonBytes, emptySourceBytes } from '../../protocol/src/index.js'
import type { ReasonBytes, ResourceBytes, SourceBytes, StatsReport } from '../../protocol/src/index.js'

/** The row that holds whatever a bounded table had to let go of. */
export const OTHER = '(other)'
/** One point of the time series per this many milliseconds. */
export const FLEET_BUCKET_MS = 10_000
/** Points kept: one hour of 10 s buckets. */
export const FLEET_SERIES_POINTS = 360
/** Most regions kept (each a Prometheus label value, so few). */
export const MAX_FLEET_REGIONS = 64
/** Most swarms kept. */
export const MAX_FLEET_SWARMS = 100
/** Most characters of a region or swarm name kept. */
export const MAX_FLEET_NAME_CHARS = 64
/** Resources in a snapshot (and so in `/dashboard.json` and in Redis), the biggest first. */
export const MAX_SNAPSHOT_RESOURCES = 50

export interface FleetTotals {
  bytes: SourceBytes
  http: ReasonBytes
  connections: { attempted: number; failed: number }
  /** Reports taken, and how many of them were clamped to the plausible budget. */
  reports: number
  clamped: number
}

/** One point of the series: bytes reported in the bucket starting at `t` (ms since the epoch). */
export interface SeriesPoint {
  t: number
  bytes: SourceBytes
}

/** The aggregate as JSON: what `/dashboard.json` shows and what a process stores in Redis. */
export interface FleetSnapshot {
  /** When it was taken, ms since the epoch. */
  at: number
  totals: FleetTotals
  regions: Record<string, SourceBytes>
  swarms: Record<string, SourceBytes>
  /** The biggest resources, at most MAX_SNAPSHOT_RESOURCES; the rest summed as OTHER. */
  resources: ResourceBytes[]
  /** Oldest first. */
  series: SeriesPoint[]
}

export function emptyTotals(): FleetTotals {
  return {
    bytes: emptySourceBytes(),
    http: emptyReasonBytes(),
    connections: { attempted: 0, failed: 0 },
    reports: 0,
    clamped: 0
  }
}

function addBytes(into: SourceBytes, from: SourceBytes): void {
  for (const s of BYTE_SOURCES) into[s] += from[s]
}

export function totalBytes(b: SourceBytes): number {
  return b.cache + b.peer + b.edge + b.origin
}

/** Byte counts by key, at most `max` keys besides OTHER; the least recently added leaves first. */
export class BoundedTally {
  readonly #rows = new Map<string, SourceBytes>()
  constructor(private readonly max: number) {}

  add(key: string, bytes: SourceBytes): void {
    let row = this.#rows.get(key)
    if (row === undefined) row = emptySourceBytes()
    else this.#rows.delete(key) // re-inserted last: most recent
    addBytes(row, bytes)
    this.#rows.set(key, row)
    if (this.#rows.size <= this.max + (this.#rows.has(OTHER) ? 1 : 0)) return
    for (const [oldest, gone] of this.#rows) {
      if (oldest === OTHER) continue
      this.#rows.delete(oldest)
      const other = this.#rows.get(OTHER) ?? emptySourceBytes()
      addBytes(other, gone)
      this.#rows.set(OTHER, other)
      return
    }
  }

  get size(): number {
    return this.#rows.size
  }

  entries(): IterableIterator<[string, SourceBytes]> {
    return this.#rows.entries()
  }

  toRecord(): Record<string, SourceBytes> {
    const out: Record<string, SourceBytes> = Object.create(null) as Record<string, SourceBytes>
    for (const [key, row] of this.#rows) out[key] = { ...row }
    return out
  }
}

export interface FleetStatsInit {
  /** Most resources kept (LRU); the rest count as OTHER. */
  maxResources: number
  now: () => number
}

/** One process's aggregate of the reports it took. */
export class FleetStats {
  readonly totals = emptyTotals()
  readonly regions = new BoundedTally(MAX_FLEET_REGIONS)
  readonly swarms = new BoundedTally(MAX_FLEET_SWARMS)
  readonly resources: BoundedTally
  /** Bucket start → bytes; insertion order is time order. */
  readonly #series = new Map<number, SourceBytes>()
  readonly #now: () => number
  #onChange: (() => void) | undefined
  #changeDelayMs = 0
  #changeTimer: ReturnType<typeof setTimeout> | undefined

  /** Call `fn` at most `delayMs` after figures change (once for all changes meanwhile); undefined stops. */
  onChange(fn: (() => void) | undefined, delayMs: number): void {
    this.#onChange = fn
    this.#changeDelayMs = delayMs
    if (fn === undefined) {
      clearTimeout(this.#changeTimer)
      this.#changeTimer = undefined
    }
  }

  constructor(init: FleetStatsInit) {
    this.resources = new BoundedTally(init.maxResources)
    this.#now = init.now
  }

  /** Add a report (already clamped) from a visitor of `region`. */
  add(report: StatsReport, region: string, clamped: boolean): void {
    const t = this.totals
    addBytes(t.bytes, report.bytes)
    for (const r of HTTP_REASONS) t.http[r] += report.http[r]
    t.connections.attempted += report.connections.attempted
    t.connections.failed += report.connections.failed
    t.reports++
    if (clamped) t.clamped++
    this.regions.add(region, report.bytes)
    this.swarms.add(report.swarm ?? OTHER, report.bytes)
    const listed = emptySourceBytes()
    for (const r of report.resources) {
      this.resources.add(r.url, r.bytes)
      addBytes(listed, r.bytes)
    }
    const rest = emptySourceBytes()
    for (const s of BYTE_SOURCES) rest[s] = report.bytes[s] - listed[s]
    if (totalBytes(rest) > 0) this.resources.add(OTHER, rest)
    this.#addPoint(report.bytes)
    if (this.#onChange !== undefined && this.#changeTimer === undefined) {
      this.#changeTimer = setTimeout(() => {
        this.#changeTimer = undefined
        this.#onChange?.()
      }, this.#changeDelayMs)
      this.#changeTimer.unref()
    }
  }

  #addPoint(bytes: SourceBytes): void {
    const t = Math.floor(this.#now() / FLEET_BUCKET_MS) * FLEET_BUCKET_MS
    let point = this.#series.get(t)
    if (point === undefined) {
      this.#series.set(t, (point = emptySourceBytes()))
      for (const old of this.#series.keys()) {
        if (old > t - FLEET_SERIES_POINTS * FLEET_BUCKET_MS) break
        this.#series.delete(old)
      }
    }
    addBytes(point, bytes)
  }

  snapshot(): FleetSnapshot {
    const resources = [...this.resources.entries()].map(([url, bytes]) => ({ url, bytes: { ...bytes } }))
    return {
      at: this.#now(),
      totals: structuredClone(this.totals),
      regions: this.regions.toRecord(),
      swarms: this.swarms.toRecord(),
      resources: topResources(resources, MAX_SNAPSHOT_RESOURCES),
      series: [...this.#series].map(([t, bytes]) => ({ t, bytes: { ...bytes } }))
    }
  }
}

/** The `max` biggest resources by bytes, the rest (and any OTHER) summed into one OTHER row, last. */
export function topResources(list: readonly ResourceBytes[], max: number): ResourceBytes[] {
  const other = emptySourceBytes()
  const named = list.filter(r => {
    if (r.url !== OTHER) return true
    addBytes(other, r.bytes)
    return false
  })
  named.sort((a, b) => totalBytes(b.bytes) - totalBytes(a.bytes))
  for (const r of named.slice(max)) addBytes(other, r.bytes)
  const top = named.slice(0, max)
  return totalBytes(other) > 0 ? [...top, { url: OTHER, bytes: other }] : top
}

/** The snapshots of several processes summed into one (the cluster's view). */
export function mergeSnapshots(snapshots: readonly FleetSnapshot[], now: number): FleetSnapshot {
  const totals = emptyTotals()
  const regions = new Map<string, SourceBytes>()
  const swarms = new Map<string, SourceBytes>()
  const resources = new Map<string, SourceBytes>()
  const series = new Map<number, SourceBytes>()
  const into = (map: Map<string | number, SourceBytes>, key: string | number, bytes: SourceBytes): void => {
    let row = map.get(key)
    if (row === undefined) map.set(key, (row = emptySourceBytes()))
    addBytes(row, bytes)
  }
  for (const s of snapshots) {
    addBytes(totals.bytes, s.totals.bytes)
    for (const r of HTTP_REASONS) totals.http[r] += s.totals.http[r]
    totals.connections.attempted += s.totals.connections.attempted
    totals.connections.failed += s.totals.connections.failed
    totals.reports += s.totals.reports
    totals.clamped += s.totals.clamped
    for (const [k, b] of Object.entries(s.regions)) into(regions, k, b)
    for (const [k, b] of Object.entries(s.swarms)) into(swarms, k, b)
    for (const r of s.resources) into(resources, r.url, r.bytes)
    for (const p of s.series) into(series, p.t, p.bytes)
  }
  const oldest = now - FLEET_SERIES_POINTS * FLEET_BUCKET_MS
  return {
    at: now,
    totals,
    regions: Object.fromEntries(regions),
    swarms: Object.fromEntries(swarms),
    resources: topResources(
      [...resources].map(([url, bytes]) => ({ url, bytes })),
      MAX_SNAPSHOT_RESOURCES
    ),
    series: [...series]
      .filter(([t]) => t > oldest)
      .sort((a, b) => a[0] - b[0])
      .map(([t, bytes]) => ({ t, bytes }))
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

function sourceBytesOf(v: unknown): SourceBytes | undefined {
  if (!isObj(v)) return undefined
  const out = emptySourceBytes()
  for (const s of BYTE_SOURCES) {
    const n = v[s]
    if (!isCount(n)) return undefined
    out[s] = n
  }
  return out
}

function tallyOf(v: unknown, max: number): Record<string, SourceBytes> | undefined {
  if (!isObj(v)) return undefined
  const entries = Object.entries(v)
  if (entries.length > max + 1) return undefined
  const out: Record<string, SourceBytes> = Object.create(null) as Record<string, SourceBytes>
  for (const [k, row] of entries) {
    const b = sourceBytesOf(row)
    if (b === undefined) return undefined
    out[k] = b
  }
  return out
}

/**
 * A snapshot another process stored in Redis, checked like any input: undefined when it
 * is not one (another version, a damaged key), so one bad key costs only its process's figures.
 */
export function parseFleetSnapshot(text: string): FleetSnapshot | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObj(v) || !isCount(v.at) || !isObj(v.totals)) return undefined
  const t = v.totals
  const bytes = sourceBytesOf(t.bytes)
  if (bytes === undefined || !isObj(t.http) || !isObj(t.connections)) return undefined
  const http = emptyReasonBytes()
  for (const r of HTTP_REASONS) {
    const n = t.http[r]
    if (!isCount(n)) return undefined
    http[r] = n
  }
  const { attempted, failed } = t.connections
  if (!isCount(attempted) || !isCount(failed) || !isCount(t.reports) || !isCount(t.clamped)) return undefined
  const regions = tallyOf(v.regions, MAX_FLEET_REGIONS)
  const swarms = tallyOf(v.swarms, MAX_FLEET_SWARMS)
  if (regions === undefined || swarms === undefined) return undefined
  if (!Array.isArray(v.resources) || v.resources.length > MAX_SNAPSHOT_RESOURCES + 1) return undefined
  if (!Array.isArray(v.series) || v.series.length > FLEET_SERIES_POINTS + 1) return undefined
  const resources: ResourceBytes[] = []
  for (const r of v.resources as unknown[]) {
    const b = isObj(r) ? sourceBytesOf(r.bytes) : undefined
    if (!isObj(r) || typeof r.url !== 'string' || b === undefined) return undefined
    resources.push({ url: r.url, bytes: b })
  }
  const series: SeriesPoint[] = []
  for (const p of v.series as unknown[]) {
    const b = isObj(p) ? sourceBytesOf(p.bytes) : undefined
    if (!isObj(p) || !isCount(p.t) || b === undefined) return undefined
    series.push({ t: p.t, bytes: b })
  }
  return {
    at: v.at,
    totals: { bytes, http, connections: { attempted, failed }, reports: t.reports, clamped: t.clamped },
    regions,
    swarms,
    resources,
    series
  }
}
