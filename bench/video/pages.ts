import type { Browser, BrowserContext, Page } from 'playwright'

export type Arm = 'ours' | 'pml' | 'http'

/** What a page needs to play one stream in one arm. */
export interface VideoInit {
  arm: Arm
  pageUrl: string
  hlsUrl: string
  /** ours: the SDK on the edge; pml: the esbuild bundle on the origin; http: unused. */
  scriptUrl: string
  /** ours: the playlist on the origin (the SDK goes through the edge); pml and http: on the edge. */
  playlistUrl: string
  tracker: string
  edge: string
  swarm: string
  /**
   * pml only: hand hls.js a copy of each segment. p2p-media-loader 2.3.1 gives hls.js the
   * very ArrayBuffer it keeps for peers, and hls.js (worker on) transfers it to its
   * transmuxer, so the kept copy is detached: peers then receive 0-byte segments.
   */
  pmlCopySegments: boolean
}

/** What one page measured, the same way in every arm, plus each library's own figures. */
export interface VideoRun {
  arm: Arm
  /** loadSource() to the first 'playing' / the first presented frame, ms; NaN if never. */
  startupMs: number
  firstFrameMs: number
  /** Navigation start to the first 'playing' (script loading included), ms. */
  startupFromNavigationMs: number
  /** 'waiting' after the first 'playing' (not while seeking) until the next 'playing'. */
  stalls: number
  stalledMs: number
  /** Segment bytes hls.js received (FRAG_LOADED payloads). */
  segmentBytes: number
  segments: number
  /** Segment bytes by the library's own account: from peers, over HTTP (edge or origin), from storage. */
  p2pBytes: number
  httpBytes: number
  cacheBytes: number
  /** ours: cdn.stats().streams.bench as the SDK reports it. */
  sdk?: { stalls: number; stalledMs: number; startupMs: number | undefined; offload: number; segments: number }
  /** ours and pml: loadSource() to the first peer connection, ms (NaN: none); peers connected at the end. */
  firstPeerMs: number
  peersAtEnd: number
  /** Media time played (the video's `played` ranges), seconds. */
  played: number
  errors: string[]
}

/** A fresh context (own IndexedDB), the player's scripts loaded, playback started. */
export async function startPage(browser: Browser, init: VideoInit): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  // tsx (esbuild keepNames) wraps named functions in __name(), which pages lack.
  await context.addInitScript('globalThis.__name = f => f')
  const page = await context.newPage()
  const errors: string[] = []
  const note = (s: string): void => {
    if (errors.length < 20) errors.push(s.slice(0, 300))
  }
  page.on('console', m => {
    if (m.type() === 'error') note(`console: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', e => note(`pageerror: ${e.message}`))
  page.on('response', r => {
    if (r.status() >= 400) note(`HTTP ${r.status()} ${r.url()}`)
  })
  ;(page as unknown as { benchErrors: string[] }).benchErrors = errors
  await page.goto(init.pageUrl)
  await page.addScriptTag({ url: init.hlsUrl })
  if (init.arm !== 'http') await page.addScriptTag({ url: init.scriptUrl })
  await page.evaluate(i => {
    const w = window as any
    const video = document.createElement('video')
    video.muted = true
    video.autoplay = true
    video.playsInline = true
    document.body.appendChild(video)
    const m = (w.bench = {
      t0: 0,
      firstPlaying: NaN,
      firstFrame: NaN,
      stalls: 0,
      stalledMs: 0,
      stallSince: undefined as number | undefined,
      segmentBytes: 0,
      segments: 0,
      p2pBytes: 0,
      httpBytes: 0,
      errors: [] as string[],
      firstPeer: NaN,
      peers: 0,
      video,
      hls: undefined as any,
      cdn: undefined as any
    })
    video.addEventListener('playing', () => {
      const now = performance.now()
      if (Number.isNaN(m.firstPlaying)) m.firstPlaying = now
      if (m.stallSince !== undefined) {
        m.stalledMs += now - m.stallSince
        m.stallSince = undefined
      }
    })
    video.addEventListener('waiting', () => {
      if (Number.isNaN(m.firstPlaying) || video.seeking || m.stallSince !== undefined) return
      m.stalls++
      m.stallSince = performance.now()
    })
    const frame = (): void => {
      if (Number.isNaN(m.firstFrame)) m.firstFrame = performance.now()
    }
    video.requestVideoFrameCallback(frame)
    const Hls = w.Hls
    let hls: any
    if (i.arm === 'ours') {
      const cdn = (m.cdn = w.P2PCDN.create({ tracker: i.tracker, edges: [i.edge], swarm: i.swarm }))
      const p2p = w.P2PCDN.hlsjs(cdn, { stream: 'bench' })
      hls = new Hls({ ...p2p.config })
      p2p.attach(hls)
      // The SDK's recovered errors by code: why bytes went to HTTP (a peer's missed deadline is ERR_TIMEOUT).
      cdn.on('error', (e: any) => {
        if (m.errors.length < 20 && e.code !== 'ERR_ABORTED')
          m.errors.push(`sdk ${e.code}: ${String(e.message).slice(0, 120)}`)
      })
      cdn.on('peer', (e: any) => {
        if (e.connected && Number.isNaN(m.firstPeer)) m.firstPeer = performance.now()
        m.peers += e.connected ? 1 : -1
      })
    } else if (i.arm === 'pml') {
      const HlsWithP2P = w.HlsJsP2PEngine.injectMixin(Hls)
      hls = new HlsWithP2P({
        p2p: {
          core: { announceTrackers: [i.tracker], swarmId: i.swarm, rtcConfig: { iceServers: [] } },
          onHlsJsCreated(h: any) {
            h.p2pEngine.addEventListener('onPeerConnect', () => {
              if (Number.isNaN(m.firstPeer)) m.firstPeer = performance.now()
              m.peers++
            })
            h.p2pEngine.addEventListener('onPeerClose', () => m.peers--)
            h.p2pEngine.addEventListener('onChunkDownloaded', (bytes: number, source: string) => {
              if (source === 'p2p') m.p2pBytes += bytes
              else m.httpBytes += bytes
            })
          }
        }
      })
      if (i.pmlCopySegments) {
        const PmlLoader = hls.config.fLoader
        hls.config.fLoader = class extends PmlLoader {
          load(context: any, config: any, callbacks: any): void {
            const onSuccess = callbacks.onSuccess
            super.load(context, config, {
              ...callbacks,
              onSuccess: (response: any, stats: any, ctx: any, details: any) =>
                onSuccess({ ...response, data: response.data.slice(0) }, stats, ctx, details)
            })
          }
        }
      }
    } else hls = new Hls()
    m.hls = hls
    hls.on(Hls.Events.FRAG_LOADED, (_e: string, data: any) => {
      // The payload may already be transferred to the transmuxer worker (byteLength 0).
      m.segmentBytes += data.frag?.stats?.loaded || data.payload?.byteLength || 0
      m.segments++
    })
    hls.on(Hls.Events.ERROR, (_e: string, data: any) => {
      const where = data.frag?.url ?? data.url ?? data.context?.url ?? ''
      const why = data.error?.message ?? data.response?.code ?? data.reason ?? ''
      if (m.errors.length < 20)
        m.errors.push(`hls ${data.fatal ? 'fatal' : 'non-fatal'}: ${data.details} ${String(why)} ${where}`.trim())
    })
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch((e: unknown) => m.errors.push(`play(): ${String(e)}`))
    })
    m.t0 = performance.now()
    hls.loadSource(i.playlistUrl)
    hls.attachMedia(video)
  }, init)
  return { context, page }
}

/** The page's figures now; playback is stopped. */
export async function collect(page: Page, arm: Arm): Promise<VideoRun> {
  const errors = (page as unknown as { benchErrors: string[] }).benchErrors
  const run: VideoRun = await page.evaluate(a => {
    const m = (window as any).bench
    const now = performance.now()
    const stalledMs = m.stalledMs + (m.stallSince === undefined ? 0 : now - m.stallSince)
    const s = a === 'ours' ? m.cdn.stats().streams.bench : undefined
    const out = {
      arm: a,
      startupMs: m.firstPlaying - m.t0,
      firstFrameMs: m.firstFrame - m.t0,
      startupFromNavigationMs: m.firstPlaying,
      stalls: m.stalls,
      stalledMs,
      segmentBytes: m.segmentBytes,
      segments: m.segments,
      p2pBytes: a === 'ours' ? (s?.bytes.peer ?? 0) : m.p2pBytes,
      httpBytes:
        a === 'ours' ? (s?.bytes.edge ?? 0) + (s?.bytes.origin ?? 0) : a === 'pml' ? m.httpBytes : m.segmentBytes,
      cacheBytes: a === 'ours' ? (s?.bytes.cache ?? 0) : 0,
      sdk:
        s === undefined
          ? undefined
          : {
              stalls: s.stalls,
              stalledMs: s.stalledMs,
              startupMs: s.startupMs,
              offload: s.offload,
              segments: s.segments
            },
      firstPeerMs: m.firstPeer - m.t0,
      peersAtEnd: m.peers,
      played: Array.from(
        { length: m.video.played.length },
        (_, k) => m.video.played.end(k) - m.video.played.start(k)
      ).reduce((x: number, y: number) => x + y, 0),
      errors: m.errors
    }
    try {
      m.hls.destroy()
      m.cdn?.destroy?.()
    } catch {}
    return out
  }, arm)
  run.errors = [...run.errors, ...errors]
  return run
}
