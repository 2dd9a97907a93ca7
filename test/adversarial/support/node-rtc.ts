/**
 * WebRTC for Node peers in tests: simple-peer over @roamhq/wrtc (shared/CHROMIUM.md
 * "WebRTC in Node": it connects to Chromium 40/40, unchanged). Loaded through require
 * because the package is CommonJS whose exports a namespace import cannot see.
 */
import { createRequire } from 'node:module'
import SimplePeer from 'simple-peer'

const require = createRequire(import.meta.url)
const wrtc = require('@roamhq/wrtc') as NonNullable<SimplePeer.Options['wrtc']>

/**
 * A simple-peer with no ICE servers (there is no internet) and no trickle, as the SDK
 * makes them. Chromium gathers no loopback candidates; both sides meet on the machine's
 * other interface through host candidates.
 */
export function nodePeer(initiator: boolean): SimplePeer.Instance {
  return new SimplePeer({ initiator, trickle: false, wrtc, config: { iceServers: [] } })
}

/** The full offer or answer: with `trickle: false` it is the only signal. */
export async function firstSdp(sp: SimplePeer.Instance, timeoutMs: number): Promise<string | undefined> {
  return await new Promise(resolve => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs)
    sp.once('signal', (data: SimplePeer.SignalData) => {
      clearTimeout(timer)
      resolve('sdp' in data ? data.sdp : undefined)
    })
    sp.once('error', () => {
      clearTimeout(timer)
      resolve(undefined)
    })
  })
}

/** Bytes queued on the data channel and not yet sent. */
export function buffered(sp: SimplePeer.Instance): number {
  return sp.bufferSize
}

/**
 * Wait until the channel has at most `highWater` bytes queued, polling: a flood must not
 * pile hundreds of MiB into the sender's own buffer. Resolves false on `deadline`
 * (`Date.now()` ms) or once the peer is gone.
 */
export async function drained(sp: SimplePeer.Instance, highWater: number, deadline: number): Promise<boolean> {
  while (buffered(sp) > highWater) {
    if (sp.destroyed || Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return !sp.destroyed
}
