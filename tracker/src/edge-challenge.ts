/**
 * Reachability challenge: before an edge is listed, the tracker fetches
 * `GET {url}/_p2pcdn/challenge?nonce=N` from the URL the edge claims, and the answer must
 * be the HMAC of the nonce under the edge's key. So a registration lists only a URL where
 * a server that holds the edge's key answers now, not a dead URL nor somebody else's.
 *
 * Bounded on every side: one request, no redirects, a deadline for the whole exchange
 * (connect, head and body), a small body cap, and a cap on challenges in flight.
 */
import { randomBytes } from 'node:crypto'
import { challengeMac, constantTimeEqual } from '../../service/src/secret.js'
import { request } from 'undici'
import { EDGE_PATHS } from '../../protocol/src/index.js'
import { Refusal } from './refusal.js'

/** A challenge answer is about 100 bytes of JSON; anything past this is not one. */
export const MAX_CHALLENGE_BODY_BYTES = 1024
/** Random bytes in a nonce. */
const NONCE_BYTES = 32

export interface EdgeChallengeInit {
  /** Deadline for the whole exchange, in milliseconds. */
  timeoutMs: number
  /** Most challenges in flight at once; registrations beyond are refused until one ends. */
  maxConcurrent: number
}

export interface EdgeChallenger {
  /**
   * Resolves once the edge at `url` proved it holds `key` for `id`; rejects with a
   * Refusal that says why not. Refuses at once when `maxConcurrent` are in flight.
   */
  check: (url: string, id: string | undefined, key: Buffer) => Promise<void>
  /** Challenges in flight now. */
  readonly inFlight: number
}

export function createEdgeChallenger(init: EdgeChallengeInit): EdgeChallenger {
  let inFlight = 0
  const refuse = (why: string): Refusal =>
    new Refusal('edge-refused', `edge registration refused: challenge failed: ${why}`)

  const fetchAnswer = async (url: string, nonce: string): Promise<unknown> => {
    const target = `${url}${EDGE_PATHS.challenge}?nonce=${nonce}`
    const signal = AbortSignal.timeout(init.timeoutMs)
    let res
    try {
      res = await request(target, {
        method: 'GET',
        signal,
        headersTimeout: init.timeoutMs,
        bodyTimeout: init.timeoutMs,
        // One-off connection: nothing of the edge's stays pooled in the tracker.
        reset: true,
        headers: { accept: 'application/json' }
      })
    } catch (err) {
      throw refuse(`${target} did not answer (${describe(err, signal)})`)
    }
    const body = res.body
    try {
      if (res.statusCode !== 200) throw refuse(`${target} answered ${res.statusCode}`)
      const declared = Number(res.headers['content-length'])
      if (declared > MAX_CHALLENGE_BODY_BYTES)
        throw refuse(`${target} answered with more than ${MAX_CHALLENGE_BODY_BYTES} bytes`)
      const chunks: Buffer[] = []
      let size = 0
      try {
        for await (const chunk of body) {
          size += (chunk as Buffer).length
          if (size > MAX_CHALLENGE_BODY_BYTES)
            throw refuse(`${target} answered with more than ${MAX_CHALLENGE_BODY_BYTES} bytes`)
          chunks.push(chunk as Buffer)
        }
      } catch (err) {
        if (err instanceof Refusal) throw err
        throw refuse(`${target} did not finish its answer (${describe(err, signal)})`)
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
      } catch {
        throw refuse(`${target} did not answer JSON`)
      }
    } finally {
      // Whatever is left unread is dropped with the connection (reset: true). undici reports
      // that as an abort 'error', which nothing would listen to (an uncaught exception).
      body.on('error', () => {})
      body.destroy()
    }
  }

  return {
    get inFlight() {
      return inFlight
    },
    async check(url, id, key) {
      if (inFlight >= init.maxConcurrent) {
        throw new Refusal(
          'edge-refused',
          'edge registration refused: too many edge registrations in progress; retry later'
        )
      }
      inFlight++
      try {
        const nonce = randomBytes(NONCE_BYTES).toString('base64url')
        const answer = await fetchAnswer(url, nonce)
        if (typeof answer !== 'object' || answer === null) throw refuse('the answer is not a JSON object')
        const { mac, id: answeredId } = answer as Record<string, unknown>
        if (id !== undefined && answeredId !== id) throw refuse(`the edge at ${url} is not "${id}"`)
        if (typeof mac !== 'string' || !constantTimeEqual(mac, challengeMac(key, id, nonce)))
          throw refuse(`the edge at ${url} does not hold this edge's secret`)
      } finally {
        inFlight--
      }
    }
  }
}

function describe(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timed out'
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : err instanceof Error ? err.message.slice(0, 200) : 'error'
}
