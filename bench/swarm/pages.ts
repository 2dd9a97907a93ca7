import type { Browser, BrowserContext, Page } from 'playwright'

/** What one page reports after loading the resource through the SDK. */
export interface PageRun {
  region: string
  /** Milliseconds from the page's fetch() call to the first body bytes / the last. */
  ttfbMs: number
  completeMs: number
  bytes: { cache: number; peer: number; edge: number; origin: number }
  sha256: string
  /** Bytes received from each remote peer, by the remote's peer id. */
  bytesByPeer: Record<string, number>
  /**
   * The same, counting only chunks asked for while this page had a connected peer of its
   * own region, i.e. while its region had two or more peers.
   */
  bytesByPeerWhileLocal: Record<string, number>
  peerId: string
}

export interface PageInit {
  pageUrl: string
  sdkUrl: string
  tracker: string
  swarm: string
  region: string
  edges: string[]
  p2p: boolean
  resource: string
}

/** A page in its own browser context, the SDK loaded and created, not fetching yet. */
export async function openSdkPage(browser: Browser, init: PageInit): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(init.pageUrl)
  await page.addScriptTag({ url: init.sdkUrl })
  await page.evaluate(async i => {
    const w = window as any
    w.cdn = w.P2PCDN.create({ tracker: i.tracker, swarm: i.swarm, region: i.region, edges: i.edges, p2p: i.p2p })
    w.bytesByPeer = {}
    w.bytesByPeerWhileLocal = {}
    // Since when a peer of our own region has been connected (undefined: none now).
    const local = new Set<string>()
    let localSince: number | undefined
    w.cdn.on('peer', (e: any) => {
      if (e.region !== i.region) return
      if (e.connected) local.add(e.id)
      else local.delete(e.id)
      localSince = local.size === 0 ? undefined : (localSince ?? performance.now())
    })
    w.cdn.on('chunk', (e: any) => {
      if (e.peer === undefined) return
      w.bytesByPeer[e.peer] = (w.bytesByPeer[e.peer] ?? 0) + e.bytes
      const askedAt = performance.now() - e.ms
      if (localSince !== undefined && localSince <= askedAt)
        w.bytesByPeerWhileLocal[e.peer] = (w.bytesByPeerWhileLocal[e.peer] ?? 0) + e.bytes
    })
    await w.cdn.ready
  }, init)
  return { context, page }
}

/** Fetch the resource in the page, timing first and last byte, hashing what arrived. */
export async function loadInPage(page: Page, init: PageInit): Promise<PageRun> {
  return await page.evaluate(async i => {
    const w = window as any
    const started = performance.now()
    const res: Response = await w.cdn.fetch(i.resource)
    const reader = res.body!.getReader()
    const parts: Uint8Array[] = []
    let ttfbMs = -1
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (ttfbMs < 0) ttfbMs = performance.now() - started
      parts.push(value)
    }
    const completeMs = performance.now() - started
    const all = new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer())
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
    const stats = w.cdn.stats()
    return {
      region: i.region,
      ttfbMs,
      completeMs,
      bytes: stats.bytes,
      sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join(''),
      bytesByPeer: w.bytesByPeer,
      bytesByPeerWhileLocal: w.bytesByPeerWhileLocal,
      peerId: stats.peerId ?? ''
    }
  }, init)
}

/**
 * Raw RTCDataChannel throughput between two pages, no SDK: `bytes` in 64 KiB messages
 * with bufferedAmountLowThreshold backpressure, signalled through the test process.
 * The anchor the SDK's peer-to-peer throughput is compared with.
 */
export async function rawChannelMiBps(a: Page, b: Page, bytes: number): Promise<number> {
  await b.evaluate(() => {
    const w = window as any
    w.rawPc = new RTCPeerConnection({ iceServers: [] })
    w.rawDone = new Promise<number>(resolve => {
      w.rawPc.ondatachannel = (e: RTCDataChannelEvent) => {
        let received = 0
        let started = 0
        e.channel.binaryType = 'arraybuffer'
        e.channel.onmessage = (m: MessageEvent) => {
          if (started === 0) started = performance.now()
          received += (m.data as ArrayBuffer).byteLength
          if (received >= w.rawExpected) resolve(performance.now() - started)
        }
      }
    })
  })
  const offer = await a.evaluate(async () => {
    const w = window as any
    w.rawPc = new RTCPeerConnection({ iceServers: [] })
    w.rawChannel = w.rawPc.createDataChannel('raw')
    w.rawChannel.binaryType = 'arraybuffer'
    await w.rawPc.setLocalDescription(await w.rawPc.createOffer())
    await new Promise<void>(resolve => {
      if (w.rawPc.iceGatheringState === 'complete') resolve()
      else
        w.rawPc.onicegatheringstatechange = () => {
          if (w.rawPc.iceGatheringState === 'complete') resolve()
        }
    })
    return w.rawPc.localDescription.toJSON()
  })
  const answer = await b.evaluate(
    async ({ offer, bytes }) => {
      const w = window as any
      w.rawExpected = bytes
      await w.rawPc.setRemoteDescription(offer)
      await w.rawPc.setLocalDescription(await w.rawPc.createAnswer())
      await new Promise<void>(resolve => {
        if (w.rawPc.iceGatheringState === 'complete') resolve()
        else
          w.rawPc.onicegatheringstatechange = () => {
            if (w.rawPc.iceGatheringState === 'complete') resolve()
          }
      })
      return w.rawPc.localDescription.toJSON()
    },
    { offer, bytes }
  )
  await a.evaluate(
    async ({ answer, bytes }) => {
      const w = window as any
      await w.rawPc.setRemoteDescription(answer)
      const ch: RTCDataChannel = w.rawChannel
      if (ch.readyState !== 'open')
        await new Promise(resolve => {
          ch.onopen = resolve
        })
      ch.bufferedAmountLowThreshold = 64 * 1024
      const msg = new Uint8Array(64 * 1024)
      for (let sent = 0; sent < bytes; sent += msg.length) {
        if (ch.bufferedAmount > 1024 * 1024)
          await new Promise(resolve => {
            ch.onbufferedamountlow = resolve
          })
        ch.send(msg)
      }
    },
    { answer, bytes }
  )
  const ms = await b.evaluate(async () => (await (window as any).rawDone) as number)
  await Promise.all([a, b].map(async p => await p.evaluate(() => (window as any).rawPc.close())))
  return bytes / 1048576 / (ms / 1000)
}
