/**
 * Service-worker mode under attack. A peer that sends wrong bytes cannot reach a page's
 * plain `fetch` or `<video src>` through the worker: the SDK checks every chunk before
 * the worker gets it. A page of the site that says it serves and then fails (a bug, a
 * broken SDK: it announces bytes that do not add up, or never answers) costs the victim
 * the network's copy, never wrong bytes nor a hung request, and the worker keeps
 * serving. (The site's own pages are trusted as the site is: one could as well register
 * its own worker. A page pushing replies nobody asked for: test/unit/client/relay-port.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sha256Hex } from '../../helpers/cdn-env.js'
import { MOVIE, controlled, startSwSite, visitor, type SwSite } from '../../e2e/support/sw-site.js'
import { HostilePeer, resourceAt } from '../support/hostile-peer.js'
import { record } from '../support/measure.js'

let site: SwSite
const BIG = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 40503) >>> 8)

beforeAll(async () => {
  site = await startSwSite({
    files: { '/big.bin': { body: BIG, headers: { 'Cache-Control': 'public, max-age=3600' } } }
  })
})

afterAll(async () => {
  await site.env.close()
})

/** In a page: fetch `url` and return its status, size and SHA-256. */
async function fetchHash(url: string): Promise<{ status: number; size: number; sha256: string }> {
  const res = await fetch(url)
  const bytes = new Uint8Array(await res.arrayBuffer())
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return {
    status: res.status,
    size: bytes.length,
    sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join('')
  }
}

it('a peer serving wrong bytes: the page behind the worker gets the right ones and plays the video', async () => {
  const url = `${site.env.origin.url}${MOVIE}`
  const wrong = site.movie.map(b => b ^ 0xff)
  const peer = new HostilePeer({
    tracker: site.env.tracker.url,
    swarm: 'poison',
    mode: 'honest',
    resources: [await resourceAt(site.env.edges[0]!.url, url, wrong)]
  })
  await peer.start()
  try {
    site.page(
      '/poison.html',
      '<script>window.errors = []; P2PCDN.ready.then(cdn => cdn.on("error", e => window.errors.push(e.code)))</script>',
      { extra: 'data-swarm="poison"' }
    )
    const { context, page } = await visitor(site)
    await page.goto(`${site.env.origin.url}/poison.html`)
    await peer.connected
    const got = await page.evaluate(fetchHash, MOVIE)
    const errors = (await page.evaluate(() => (globalThis as any).errors)) as string[]
    record('worker-relay', 'poisoning peer', { peerBytesSent: peer.counters.dataBytesSent, errors: errors.length })
    expect(got).toEqual({ status: 200, size: site.movie.length, sha256: sha256Hex(site.movie) })
    expect(peer.counters.dataBytesSent).toBeGreaterThan(0)
    expect(errors).toContain('ERR_INTEGRITY')
    await page.evaluate(async src => {
      // This file is type-checked without the DOM: the page's globals are reached through `w`.
      const w = globalThis as any
      const v = w.document.createElement('video')
      v.muted = true
      v.src = src
      w.document.body.append(v)
      await v.play()
      v.playbackRate = 16
      await new Promise((resolve, reject) => {
        v.addEventListener('ended', resolve, { once: true })
        v.addEventListener('error', () => reject(new Error(`video error ${String(v.error?.code)}`)), { once: true })
      })
    }, `${MOVIE}?played`)
    await context.close()
  } finally {
    await peer.stop()
  }
})

/** A page of the site that says hello to the worker and answers its requests as `behaviour` says. */
function roguePage(behaviour: 'bad-head' | 'mute'): string {
  return `<!doctype html><title>rogue</title><script>
    const sw = navigator.serviceWorker
    const hello = () => sw.controller?.postMessage({ p2pcdn: 1, type: 'hello' })
    sw.addEventListener('message', event => {
      const port = event.ports[0]
      if (event.data?.type !== 'request' || port === undefined) return
      window.asked = (window.asked ?? 0) + 1
      const behaviour = ${JSON.stringify(behaviour)}
      if (behaviour === 'mute') return
      port.postMessage({ type: 'accepted' })
      // Bytes that do not add up: 100 announced, a range of 10; then those 10 bytes, one pull each.
      port.postMessage({ type: 'head', status: 206, headers: [['Content-Length', '100'], ['Content-Range', 'bytes 0-9/10']] })
      let sent = false
      port.onmessage = ask => {
        if (ask.data.type === 'ping') port.postMessage({ type: 'alive' })
        if (ask.data.type !== 'pull') return
        port.postMessage(sent ? { type: 'end' } : { type: 'chunk', bytes: new Uint8Array(10).fill(7).buffer })
        sent = true
      }
    })
    sw.startMessages()
    hello()
    setInterval(hello, 1000)
  </script>`
}

for (const behaviour of ['bad-head', 'mute'] as const) {
  it(`a page of the site that says it serves and then ${behaviour === 'bad-head' ? 'announces bytes that do not add up' : 'never answers'}: the victim gets the network's copy`, async () => {
    site.env.origin.files[`/rogue-${behaviour}.html`] = { body: roguePage(behaviour), type: 'text/html' }
    site.env.origin.files['/victim.html'] = { body: '<!doctype html><title>victim</title>', type: 'text/html' }
    // The worker is installed by a visit to the home page, which is then closed: the rogue page is the only server.
    const { context, page: home } = await visitor(site)
    await home.close()
    const rogue = await context.newPage()
    await rogue.goto(`${site.env.origin.url}/rogue-${behaviour}.html`)
    await controlled(rogue)
    const victim = await context.newPage()
    await victim.goto(`${site.env.origin.url}/victim.html`)
    const before = site.browserRequests('/big.bin').length
    const started = Date.now()
    const got = await victim.evaluate(fetchHash, `/big.bin?${behaviour}`)
    const ms = Date.now() - started
    const asked = (await rogue.evaluate(() => (globalThis as any).asked)) as number
    record('worker-relay', `rogue page ${behaviour}`, { ms, asked })
    expect(got).toEqual({ status: 200, size: BIG.length, sha256: sha256Hex(BIG) })
    expect(asked).toBe(1)
    expect(site.browserRequests('/big.bin').length - before).toBe(1)
    // The worker lives on: the next request is answered too.
    expect((await victim.evaluate(fetchHash, `/big.bin?${behaviour}-again`)).sha256).toBe(sha256Hex(BIG))
    await context.close()
  })
}
