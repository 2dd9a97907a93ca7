/**
 * Leaks between users: what the origin answered one client (its Set-Cookie, a page
 * built from its Cookie) must not be replayed to another from the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectVictim, mustStart, record, request } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

const WEEK_AGO = new Date(Date.now() - 7 * 86_400_000).toUTCString()
let origin: HttpOrigin
let edge: EdgeChild
// The origin hands each visitor a session of its own, as a real site would.
let sessions = 0

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    const url = req.url ?? '/'
    if (url === '/s') {
      // Heuristically cacheable (Last-Modified, no Cache-Control) yet carries a session.
      res.writeHead(200, {
        'content-type': 'text/plain',
        'set-cookie': `session=secret-${++sessions}; HttpOnly`,
        'last-modified': WEEK_AGO
      })
      res.end('hello')
    } else if (url === '/s-public') {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'set-cookie': 'session=first-requester',
        'cache-control': 'public, max-age=60'
      })
      res.end('public page')
    } else if (url.startsWith('/account/')) {
      // The origin ignores the ".css" suffix: web cache deception.
      const session = /session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1] ?? 'anonymous'
      res.writeHead(200, { 'content-type': 'text/html', 'last-modified': WEEK_AGO })
      res.end(`<html><body>account of ${session}</body></html>`)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  edge = await mustStart(origin.url)
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

function headerText(headers: Record<string, unknown>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join('\n')
}

describe('private answers', () => {
  it('a Set-Cookie given to the victim is never sent to the attacker', async () => {
    const victim = await request(edge.url + '/s', { headers: { cookie: 'id=1' } })
    const victimSession = /session=([^;]*)/.exec(String(victim.headers['set-cookie']))?.[1] ?? 'none'
    // A first visit without cookies gets a session too; so do the attackers, at once and after.
    const [fresh, ...attackers] = await Promise.all([
      request(edge.url + '/s'),
      request(edge.url + '/s'),
      request(edge.url + '/s')
    ])
    const freshSession = /session=([^;]*)/.exec(String(fresh?.headers['set-cookie']))?.[1] ?? 'none'
    attackers.push(await request(edge.url + '/s'))
    const attacker = attackers[attackers.length - 1] as typeof victim
    const leaked = attackers.some(
      a => headerText(a.headers).includes(victimSession) || headerText(a.headers).includes(freshSession)
    )
    record('private: Set-Cookie with heuristic freshness', {
      victim: `${victim.status} ${String(victim.headers['set-cookie'])}`,
      attacker: `${attacker.status} ${String(attacker.headers['x-cache'])} set-cookie=${String(attacker.headers['set-cookie'])}`,
      leaked
    })
    expect(victim.status).toBe(200)
    expect(victimSession).not.toBe('none')
    expect(leaked).toBe(false)
    await expectVictim(edge, '/small', SMALL)
  })

  it('a public object with Set-Cookie is cached without it', async () => {
    const first = await request(edge.url + '/s-public')
    const second = await request(edge.url + '/s-public')
    record('private: public + Set-Cookie', {
      first: `${first.status} ${String(first.headers['x-cache'])} set-cookie=${String(first.headers['set-cookie'])}`,
      second: `${second.status} ${String(second.headers['x-cache'])} set-cookie=${String(second.headers['set-cookie'])}`
    })
    expect(first.status).toBe(200)
    expect(String(first.headers['set-cookie'])).toContain('session=first-requester')
    expect(second.status).toBe(200)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['set-cookie']).toBeUndefined()
    expect(second.body.toString()).toBe('public page')
    await expectVictim(edge, '/small', SMALL)
  })

  it("web cache deception: /account/x.css fetched with the victim's cookie is not served to the attacker", async () => {
    const victim = await request(edge.url + '/account/x.css', { headers: { cookie: 'session=victim' } })
    const attacker = await request(edge.url + '/account/x.css')
    record('private: web cache deception', {
      victim: `${victim.status} ${victim.body.toString()}`,
      attacker: `${attacker.status} ${String(attacker.headers['x-cache'])} ${attacker.body.toString()}`
    })
    expect(victim.body.toString()).toContain('victim')
    expect(attacker.body.toString()).not.toContain('victim')
    expect(headerText(attacker.headers)).not.toContain('victim')
    await expectVictim(edge, '/small', SMALL)
  })
})
