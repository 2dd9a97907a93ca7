/**
 * What the service worker and the pages running the SDK say to each other. Both sides
 * check every message: a page may run another SDK version than the worker (an update
 * reaches them at different times), so each message carries RELAY_VERSION and one of
 * another version is ignored, which makes the worker go to the network.
 *
 * Page -> worker (`postMessage` to the worker): `hello` (this page serves requests; sent
 * at start, every KEEPALIVE_MS, which also keeps the worker alive while streams run, and
 * when the controller changes), `bye` (the page is going away).
 * Worker -> page: `ping` (say hello if you serve), and `request` with a MessagePort on
 * which the exchange for that one request runs:
 *   page: `accepted` at once (its SDK runs), then `head` | `fallback` | `error`, then for a
 *   head one of `chunk` | `end` | `error` per `pull`, nothing unasked;
 *   worker: `pull` (send the next bytes) | `cancel` (the reader went away) | `ping`
 *   (while a reply is due), which the page answers with `alive` at once, whatever it is
 *   doing: a closed or frozen page never does, and the worker stops waiting on it.
 */

export const RELAY_VERSION = 1

/** How often a serving page says hello. Chromium stops an idle worker after 30 s. */
export const KEEPALIVE_MS = 10_000

export type PageMessage =
  { p2pcdn: typeof RELAY_VERSION; type: 'hello' } | { p2pcdn: typeof RELAY_VERSION; type: 'bye' }

export type WorkerMessage =
  | { p2pcdn: typeof RELAY_VERSION; type: 'ping' }
  | { p2pcdn: typeof RELAY_VERSION; type: 'request'; url: string; range: string | null }

export type PortReply =
  | { type: 'accepted' }
  | { type: 'alive' }
  | { type: 'head'; status: 200 | 206; headers: Array<[string, string]> }
  | { type: 'fallback'; reason: string }
  | { type: 'chunk'; bytes: ArrayBuffer }
  | { type: 'end' }
  | { type: 'error'; reason: string }

export type PortAsk = { type: 'pull' } | { type: 'cancel' } | { type: 'ping' }

/** Response headers a relayed answer may carry: what describes the bytes, nothing else. */
export const RELAYED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'etag'
])

const MAX_URL_LENGTH = 8192
const MAX_REASON_LENGTH = 500

function isRecord(data: unknown): data is Record<string, unknown> {
  return typeof data === 'object' && data !== null
}

function ours(data: unknown): data is Record<string, unknown> {
  return isRecord(data) && data.p2pcdn === RELAY_VERSION
}

export function parsePageMessage(data: unknown): PageMessage | undefined {
  if (!ours(data)) return undefined
  return data.type === 'hello' || data.type === 'bye' ? { p2pcdn: RELAY_VERSION, type: data.type } : undefined
}

export function parseWorkerMessage(data: unknown): WorkerMessage | undefined {
  if (!ours(data)) return undefined
  if (data.type === 'ping') return { p2pcdn: RELAY_VERSION, type: 'ping' }
  if (data.type !== 'request') return undefined
  const { url, range } = data
  if (typeof url !== 'string' || url.length > MAX_URL_LENGTH) return undefined
  if (range !== null && (typeof range !== 'string' || range.length > 200)) return undefined
  return { p2pcdn: RELAY_VERSION, type: 'request', url, range }
}

export function parsePortAsk(data: unknown): PortAsk | undefined {
  if (!isRecord(data)) return undefined
  return data.type === 'pull' || data.type === 'cancel' || data.type === 'ping' ? { type: data.type } : undefined
}

/** A page's reply, or `undefined` for anything malformed (the worker then stops trusting that page's answer). */
export function parsePortReply(data: unknown): PortReply | undefined {
  if (!isRecord(data)) return undefined
  const reason = (): string => (typeof data.reason === 'string' ? data.reason.slice(0, MAX_REASON_LENGTH) : '')
  switch (data.type) {
    case 'head': {
      const { status, headers } = data
      if ((status !== 200 && status !== 206) || !Array.isArray(headers) || headers.length > 16) return undefined
      const kept: Array<[string, string]> = []
      for (const pair of headers as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) return undefined
        const [name, value] = pair as unknown[]
        if (typeof name !== 'string' || typeof value !== 'string' || value.length > 1024) return undefined
        if (RELAYED_HEADERS.has(name.toLowerCase())) kept.push([name, value])
      }
      return { type: 'head', status, headers: kept }
    }
    case 'chunk':
      return data.bytes instanceof ArrayBuffer ? { type: 'chunk', bytes: data.bytes } : undefined
    case 'end':
    case 'accepted':
    case 'alive':
      return { type: data.type }
    case 'fallback':
    case 'error':
      return { type: data.type, reason: reason() }
    default:
      return undefined
  }
}
