/**
 * The page's side of service-worker mode: registers the worker, tells it this page
 * serves, and answers each request it relays with `cdn.fetch`, one pull at a time, so a
 * reader that stops (a paused video) stops the fetching too.
 */
import type { Client } from '../client.js'
import {
  KEEPALIVE_MS,
  RELAYED_HEADERS,
  RELAY_VERSION,
  parsePortAsk,
  parseWorkerMessage,
  type PageMessage,
  type PortReply
} from './messages.js'

/** Where the worker is: the operator's file on the site's own origin, and the pages it controls. */
export interface WorkerSetup {
  url: string
  scope?: string
}

/** The worker file's name, which `unregisterServiceWorker()` looks for when given no URL. */
export const WORKER_FILE = 'p2pcdn-sw.js'

/**
 * Register the worker and serve its requests with `cdn` until the returned function is
 * called. Where service workers are unavailable (an insecure origin, a private window of
 * some browsers) nothing changes: the page loads as it would without.
 */
export function useServiceWorker(cdn: Client, setup: WorkerSetup): () => void {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return () => {}
  const stop = serveWorkerRequests(cdn)
  navigator.serviceWorker
    .register(setup.url, { ...(setup.scope === undefined ? {} : { scope: setup.scope }), updateViaCache: 'none' })
    .catch((err: unknown) => cdn.emit('error', { code: 'ERR_INTERNAL', message: `service worker: ${String(err)}` }))
  return stop
}

/** Answer the controlling worker's relayed requests with `cdn`. */
export function serveWorkerRequests(cdn: Client): () => void {
  const container = navigator.serviceWorker
  const say = (type: PageMessage['type']): void =>
    container.controller?.postMessage({ p2pcdn: RELAY_VERSION, type } satisfies PageMessage)
  const hello = (): void => say('hello')
  const bye = (): void => say('bye')
  const onMessage = (event: MessageEvent): void => {
    if (!(event.source instanceof ServiceWorker)) return
    const message = parseWorkerMessage(event.data)
    if (message?.type === 'ping') hello()
    else if (message?.type === 'request' && event.ports[0] !== undefined) void answer(cdn, message, event.ports[0])
  }
  container.addEventListener('message', onMessage)
  container.addEventListener('controllerchange', hello)
  container.startMessages()
  addEventListener('pagehide', bye)
  hello()
  const timer = setInterval(hello, KEEPALIVE_MS)
  return () => {
    bye()
    clearInterval(timer)
    container.removeEventListener('message', onMessage)
    container.removeEventListener('controllerchange', hello)
    removeEventListener('pagehide', bye)
  }
}

async function answer(cdn: Client, request: { url: string; range: string | null }, port: MessagePort): Promise<void> {
  const reply = (message: PortReply, transfer: Transferable[] = []): void => port.postMessage(message, transfer)
  const abort = new AbortController()
  // Set once the head is sent; pulls and a cancel may come before.
  const body: { reader?: ReadableStreamDefaultReader<Uint8Array> } = {}
  let pulls = 0
  let reading = false
  const pump = async (): Promise<void> => {
    const reader = body.reader
    if (reading || reader === undefined) return
    reading = true
    try {
      while (pulls > 0 && !abort.signal.aborted) {
        pulls--
        const { done, value } = await reader.read()
        // A copy: the SDK's buffer may be shared with storage and peers, and a transfer detaches it.
        const bytes = done ? undefined : value.slice().buffer
        if (bytes === undefined) reply({ type: 'end' })
        else reply({ type: 'chunk', bytes }, [bytes])
      }
    } catch (err) {
      reply({ type: 'error', reason: String(err) })
      abort.abort()
    } finally {
      reading = false
    }
  }
  port.onmessage = event => {
    const ask = parsePortAsk(event.data)
    if (ask?.type === 'cancel') {
      abort.abort(new DOMException('the worker cancelled', 'AbortError'))
      void body.reader?.cancel().catch(() => {})
      port.close()
    } else if (ask?.type === 'ping') {
      reply({ type: 'alive' })
    } else if (ask?.type === 'pull') {
      pulls++
      void pump()
    }
  }
  reply({ type: 'accepted' })
  if (new URL(request.url).origin !== location.origin) {
    reply({ type: 'fallback', reason: 'another origin' })
    return
  }
  let res: Response | undefined
  try {
    res = await cdn.fetchShared(request.url, {
      headers: request.range === null ? {} : { Range: request.range },
      signal: abort.signal
    })
  } catch (err) {
    reply({ type: 'error', reason: String(err) })
    return
  }
  if (res === undefined) {
    reply({ type: 'fallback', reason: 'no manifest: not shared' })
    return
  }
  if (res.status !== 200 && res.status !== 206) {
    // A 416 or the like: the network says it as well as the SDK.
    await res.body?.cancel().catch(() => {})
    reply({ type: 'fallback', reason: `status ${res.status}` })
    return
  }
  const headers = [...res.headers].filter(([name]) => RELAYED_HEADERS.has(name))
  reply({ type: 'head', status: res.status, headers })
  body.reader = res.body?.getReader() ?? new ReadableStream<Uint8Array>({ start: c => c.close() }).getReader()
  void pump()
}

/**
 * Unregister the worker at `url` (by default every registration of a `p2pcdn-sw.js`).
 * Pages it controls keep it until they reload. Resolves with how many were removed.
 */
export async function unregisterServiceWorker(url?: string): Promise<number> {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return 0
  const wanted = url === undefined ? undefined : new URL(url, location.href).href
  let removed = 0
  for (const registration of await navigator.serviceWorker.getRegistrations()) {
    const worker = registration.active ?? registration.waiting ?? registration.installing
    const script = worker?.scriptURL ?? ''
    const ours = wanted === undefined ? new URL(script).pathname.endsWith(`/${WORKER_FILE}`) : script === wanted
    if (ours && (await registration.unregister())) removed++
  }
  return removed
}
