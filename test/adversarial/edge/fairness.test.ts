/**
 * Fairness: one client's flood of misses must not queue another client's request
 * behind all of it. The edge has a fixed pool of origin connections (64 by default;
 * there is no CLI flag for it), so the measure is how many attacker requests the
 * origin sees between the victim being sent and the victim arriving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectVictim, mustStart, record, request, until } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

/** edge/src/config.ts's default `originConnections`. */
const ORIGIN_CONNECTIONS = 64
const FLOOD = 1000

let origin: HttpOrigin
let edge: EdgeChild

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' })
      res.end(`answer for ${req.url ?? ''}`)
    }, 100)
  })
  edge = await mustStart(origin.url)
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

describe('fairness between clients', () => {
  it('a victim on another address is not queued behind 1,000 misses from one attacker', async () => {
    await request(edge.url + '/small')
    const flood = Array.from(
      { length: FLOOD },
      async (_, i) =>
        await request(`${edge.url}/flood/${i}`, { timeoutMs: 30_000 }).then(
          r => r.status,
          () => -1
        )
    )
    const seen = await until(() => origin.log.some(a => a.url.startsWith('/flood/')), 10_000)
    expect(seen).toBe(true)
    const sentAt = origin.log.length
    const victim = await request(edge.url + '/victim', { localAddress: '127.0.0.2', timeoutMs: 30_000 })
    const arrival = origin.log.find(a => a.url === '/victim')
    const attackersBetween = origin.log
      .slice(sentAt, arrival?.seq ?? origin.log.length)
      .filter(a => a.url.startsWith('/flood/')).length
    const statuses = await Promise.all(flood)
    record('fairness: 1000-miss flood vs victim', {
      victim: `${victim.status} ${victim.body.toString()}`,
      victimLatencyMs: victim.ms,
      attackerRequestsBeforeVictim: attackersBetween,
      allowed: 2 * ORIGIN_CONNECTIONS,
      floodOk: statuses.filter(s => s === 200).length
    })
    expect(victim.status).toBe(200)
    expect(victim.body.toString()).toBe('answer for /victim')
    expect(arrival).toBeDefined()
    expect(attackersBetween).toBeLessThanOrEqual(2 * ORIGIN_CONNECTIONS)
    await expectVictim(edge, '/small', SMALL)
  })
})
