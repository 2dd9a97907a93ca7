/**
 * Cache-poisoned denial of service: one bad answer the attacker provoked must not be
 * stored and served to everybody after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectVictim, mustStart, record, request } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

const GOOD = 'the real page'
let origin: HttpOrigin
let edge: EdgeChild

beforeAll(async () => {
  origin = await startHttpOrigin((req, res, seen) => {
    if (serveSmall(req, res)) return
    const url = req.url ?? '/'
    const bare = /^\/p(\d{3})$/.exec(url)
    if (bare !== null) {
      // The first request (the attacker's, e.g. with an oversized header the origin
      // rejects) gets a bare error; everyone after gets the page.
      if (seen === 0) {
        res.writeHead(Number(bare[1]), { 'content-type': 'text/plain' })
        res.end('error')
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' })
        res.end(GOOD)
      }
      return
    }
    if (url === '/q') {
      if (req.headers.cookie !== undefined) {
        res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=600' })
        res.end('not for you')
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' })
        res.end(GOOD)
      }
      return
    }
    res.writeHead(404)
    res.end()
  })
  edge = await mustStart(origin.url)
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

describe('cache-poisoned denial of service', () => {
  it.each([404, 405, 400])('a bare %i provoked by the attacker is not served to the victim', async status => {
    const path = `/p${status}`
    const attacker = await request(edge.url + path, { headers: { 'x-oversized': 'a'.repeat(8000) } })
    const victim = await request(edge.url + path)
    record(`cpdos: bare ${status}`, {
      attacker: attacker.status,
      victim: `${victim.status} ${String(victim.headers['x-cache'])} ${victim.body.toString().slice(0, 40)}`,
      originRequests: origin.count(path)
    })
    expect(attacker.status).toBe(status)
    expect(victim.status).toBe(200)
    expect(victim.body.toString()).toBe(GOOD)
    await expectVictim(edge, '/small', SMALL)
  })

  it('a Cookie request is not served from a non-public entry, and its public 404 does not replace the 200', async () => {
    const first = await request(edge.url + '/q')
    const before = origin.count('/q')
    const withCookie = await request(edge.url + '/q', { headers: { cookie: 'id=attacker' } })
    const reached = origin.count('/q') - before
    const victim = await request(edge.url + '/q')
    record('cpdos: cookie request vs non-public entry', {
      first: `${first.status} ${String(first.headers['x-cache'])}`,
      cookieRequest: `${withCookie.status} ${String(withCookie.headers['x-cache'])}`,
      cookieReachedOrigin: reached,
      victim: `${victim.status} ${String(victim.headers['x-cache'])} ${victim.body.toString()}`
    })
    expect(first.status).toBe(200)
    expect(reached).toBe(1)
    expect(withCookie.status).toBe(404)
    expect(victim.status).toBe(200)
    expect(victim.body.toString()).toBe(GOOD)
    await expectVictim(edge, '/small', SMALL)
  })
})
