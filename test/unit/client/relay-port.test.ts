/** The worker's end of a relayed request, over a real MessageChannel (Node's). */
import { afterEach, describe, expect, it } from 'vitest'
import { RelayPort } from '../../../client/src/service-worker/relay-port.js'

const channels: MessageChannel[] = []
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close()
    c.port2.close()
  }
})

/** A relay and the page's end of its channel; `answer` runs for each message the page gets. */
function relay(answer: (data: any, page: MessagePort) => void = () => {}): { relay: RelayPort; page: MessagePort } {
  const channel = new MessageChannel()
  channels.push(channel)
  channel.port2.onmessage = event => answer(event.data, channel.port2)
  // Pings every 200 ms, given up after 600 ms unanswered: slack for a loaded machine's event loop.
  return { relay: new RelayPort(channel.port1, { livenessMs: 200, stallMs: 5000 }), page: channel.port2 }
}

describe('RelayPort', () => {
  it('takes the replies it asked for, in order', async () => {
    const { relay: r, page } = relay((data, port) => {
      if (data.type === 'pull') port.postMessage({ type: 'chunk', bytes: new ArrayBuffer(3) })
    })
    page.postMessage({ type: 'accepted' })
    page.postMessage({ type: 'head', status: 200, headers: [['Content-Length', '3']] })
    expect(await r.reply()).toEqual({ type: 'accepted' })
    expect((await r.reply()).type).toBe('head')
    r.ask({ type: 'pull' })
    expect(await r.reply()).toEqual({ type: 'chunk', bytes: new ArrayBuffer(3) })
  })

  it('fails at the first reply nobody asked for, keeping none of a flood', async () => {
    const { relay: r, page } = relay()
    let closed = 0
    r.onClose = () => closed++
    page.postMessage({ type: 'accepted' })
    page.postMessage({ type: 'head', status: 200, headers: [['Content-Length', '3']] })
    for (let i = 0; i < 1000; i++) page.postMessage({ type: 'chunk', bytes: new ArrayBuffer(1024) })
    expect(await r.reply()).toEqual({ type: 'accepted' })
    await expect(r.reply().then(async () => await r.reply())).rejects.toThrow('a reply nobody asked for')
    expect(closed).toBe(1)
  })

  it('gives a page that answers pings time, and one that does not up after three pings', async () => {
    const alive = relay((data, port) => {
      if (data.type === 'ping') port.postMessage({ type: 'alive' })
    })
    const slow = alive.relay.reply()
    setTimeout(() => alive.page.postMessage({ type: 'accepted' }), 1000)
    expect(await slow).toEqual({ type: 'accepted' })

    // Well before its 5000 ms deadline, which would fail with another message.
    await expect(relay().relay.reply()).rejects.toThrow('the serving page is gone')
  })

  it('gives up after its deadline even on a page that answers pings', async () => {
    const { relay: r } = relay((data, port) => {
      if (data.type === 'ping') port.postMessage({ type: 'alive' })
    })
    await expect(r.reply(500)).rejects.toThrow('no answer from the serving page in 500 ms')
  })

  it('refuses a malformed reply', async () => {
    const { relay: r, page } = relay()
    page.postMessage({ type: 'head', status: 302, headers: [] })
    await expect(r.reply()).rejects.toThrow('malformed reply')
  })
})
