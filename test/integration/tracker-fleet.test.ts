/**
 * Fleet statistics over real sockets: browsers' `p2pcdn:stats` reports summed by a real
 * tracker and shown at `/dashboard.json` (behind the dashboard token) and `/metrics`;
 * then two `p2pcdn tracker --redis` processes and a real redis-server, whose dashboards
 * each show both processes' figures, until one process dies and its figures expire.
 */
import { readFileSync } from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { join as joinPath } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { binaryId, connectRaw, isFailure } from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { barrier } from '../helpers/barrier.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'
import { emptyReasonBytes } from '../../protocol/src/stats.js'
import { startTrackerProcess } from '../helpers/tracker-process.js'
import type { TrackerProcess } from '../helpers/tracker-process.js'
import { startRedis } from '../helpers/tracker-redis.js'
import type { RedisProcess } from '../helpers/tracker-redis.js'

const TOKEN = 'ops-token'
const trackers = useTrackers()

const bytes = (peer: number, edge: number, origin = 0, cache = 0): Json => ({ cache, peer, edge, origin })
function report(b: Json, extra: Json = {}): Json {
  return {
    action: 'p2pcdn:stats',
    v: 1,
    swarm: 'site',
    bytes: b,
    http: { 'no-peer': Number(b.edge) + Number(b.origin) },
    connections: { attempted: 2, failed: 1 },
    resources: [{ url: 'https://site.example/video.mp4', bytes: b }],
    ...extra
  }
}

async function dashboard(httpUrl: string, auth = `Bearer ${TOKEN}`): Promise<{ status: number; body: any }> {
  const res = await fetch(`${httpUrl}/dashboard.json`, { headers: { authorization: auth } })
  return { status: res.status, body: await res.json() }
}

/** A report on `client`, then a round trip: the tracker has taken it once `barrier` resolves. */
async function sendReport(client: RawTrackerClient, msg: Json): Promise<void> {
  client.send(msg)
  await barrier(client)
}

describe('one tracker', () => {
  it('sums the reports of several visitors at /dashboard.json and /metrics', async () => {
    const tracker = await trackers.start({ dashboardToken: TOKEN })
    const eu = await trackers.connect(tracker)
    await join(eu, binaryId(), binaryId(), { region: 'eu' })
    const us = await trackers.connect(tracker)
    await sendReport(eu, report(bytes(3000, 1000)))
    await sendReport(us, report(bytes(0, 500, 100, 50), { region: 'us' }))
    const { status, body } = await dashboard(tracker.httpUrl)
    expect(status).toBe(200)
    expect(body.fleet.totals).toEqual({
      bytes: bytes(3000, 1500, 100, 50),
      http: { ...emptyReasonBytes(), 'no-peer': 1600 },
      connections: { attempted: 4, failed: 2 },
      reports: 2,
      clamped: 0
    })
    // The region the socket announced, else the one it reported.
    expect(body.fleet.regions).toEqual({ eu: bytes(3000, 1000), us: bytes(0, 500, 100, 50) })
    expect(body.fleet.resources).toEqual([{ url: 'https://site.example/video.mp4', bytes: bytes(3000, 1500, 100, 50) }])
    expect(body.nodes).toBe(1)
    const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
    expect(metrics).toContain('p2pcdn_fleet_bytes_total{source="peer"} 3000')
    expect(metrics).toContain('p2pcdn_fleet_http_bytes_total{reason="no-peer"} 1600')
    expect(metrics).toContain('p2pcdn_fleet_region_bytes_total{region="us",source="origin"} 100')
    expect(metrics).toContain('p2pcdn_fleet_webrtc_failures_total 2')
    // No URL reaches a label.
    expect(metrics).not.toContain('video.mp4')
  })

  it('every tracker series the Grafana example queries is one /metrics serves', async () => {
    const tracker = await trackers.start()
    const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
    const served = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map(m => m[1]))
    const grafana = readFileSync(joinPath(import.meta.dirname, '../../examples/grafana/p2pcdn.json'), 'utf8')
    const queried = new Set([...grafana.matchAll(/p2pcdn_(?:fleet|tracker)_[a-z_]+/g)].map(m => m[0]))
    expect(queried.size).toBeGreaterThan(5)
    for (const name of queried) expect(served, name).toContain(name)
  })

  it('a malformed report is answered with ERR_INVALID_MESSAGE and counts nothing; the socket stays open', async () => {
    const tracker = await trackers.start({ dashboardToken: TOKEN })
    const client = await trackers.connect(tracker)
    client.send(report(bytes(10, 10), { http: { 'no-peer': 1e6 } }))
    expect(await client.next(isFailure)).toMatchObject({ action: 'p2pcdn:stats', code: 'ERR_INVALID_MESSAGE' })
    await sendReport(client, report(bytes(10, 10)))
    expect((await dashboard(tracker.httpUrl)).body.fleet.totals.reports).toBe(1)
  })

  it('the dashboard needs the token: 401 with a Basic challenge without it, 404 on a tracker with none', async () => {
    const tracker = await trackers.start({ dashboardToken: TOKEN })
    for (const auth of ['', 'Bearer wrong', `Basic ${Buffer.from(`ops:wrong`).toString('base64')}`, 'Basic !!!']) {
      const res = await fetch(`${tracker.httpUrl}/dashboard`, { headers: auth === '' ? {} : { authorization: auth } })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="p2pcdn dashboard"')
    }
    const page = await fetch(`${tracker.httpUrl}/dashboard`, {
      headers: { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` }
    })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await page.text()).toContain('<title>p2pcdn dashboard</title>')
    // Its own inline script by hash, this tracker only, never framed.
    expect(page.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; .*connect-src 'self'; frame-ancestors 'none'/
    )
    const off = await trackers.start()
    expect((await fetch(`${off.httpUrl}/dashboard`)).status).toBe(404)
    expect((await dashboard(off.httpUrl)).status).toBe(404)
  })
})

describe('two tracker processes sharing Redis', () => {
  const TTL_MS = 1500
  let redis: RedisProcess | undefined
  const procs: ChildProcess[] = []
  const clients: RawTrackerClient[] = []
  afterAll(async () => {
    await Promise.all(clients.map(async c => await c.close()))
    for (const p of procs) p.kill('SIGKILL')
    await redis?.stop()
  })

  async function startNode(redisUrl: string): Promise<TrackerProcess> {
    const node = await startTrackerProcess([
      '--redis',
      redisUrl,
      '--cluster-ttl-ms',
      String(TTL_MS),
      '--dashboard-token',
      TOKEN
    ])
    procs.push(node.proc)
    return node
  }

  it("each process's dashboard sums both; a dead process's figures expire within the TTL", async () => {
    redis = await startRedis()
    const [a, b] = await Promise.all([startNode(redis.url), startNode(redis.url)])
    const atA = await connectRaw(a.url)
    const atB = await connectRaw(b.url)
    clients.push(atA, atB)
    await sendReport(atA, report(bytes(700, 300), { region: 'eu' }))
    await sendReport(atB, report(bytes(100, 900), { region: 'us' }))
    for (const node of [a, b]) {
      await expect
        .poll(async () => (await dashboard(node.httpUrl)).body.fleet.totals.bytes, { timeout: 5000 })
        .toEqual(bytes(800, 1200))
    }
    const both = (await dashboard(a.httpUrl)).body
    expect(both.nodes).toBe(2)
    expect(both.fleet.regions).toEqual({ eu: bytes(700, 300), us: bytes(100, 900) })
    expect(both.fleet.resources[0]).toEqual({ url: 'https://site.example/video.mp4', bytes: bytes(800, 1200) })
    // Each process's /metrics has its own figures only: Prometheus sums the processes.
    expect(await (await fetch(`${a.httpUrl}/metrics`)).text()).toContain('p2pcdn_fleet_bytes_total{source="peer"} 700')

    b.proc.kill('SIGKILL')
    const started = Date.now()
    await expect
      .poll(async () => (await dashboard(a.httpUrl)).body.fleet.totals.bytes, { timeout: 3 * TTL_MS, interval: 100 })
      .toEqual(bytes(700, 300))
    expect(Date.now() - started).toBeLessThan(TTL_MS + 1000)
    expect((await dashboard(a.httpUrl)).body.nodes).toBe(1)
  }, 60_000)
})
