/**
 * Init scripts for browser tests: they run in a page before any of its scripts, so they
 * can count or break the browser APIs the SDK uses without touching the SDK itself.
 * Each is a self-contained function for `context.addInitScript(fn, arg)`.
 */

/** What `countConnections` records on `window.__probe`. */
export interface ConnectionProbe {
  pcCreated: number
  /** RTCPeerConnections not closed yet. */
  pcOpen: number
  /** Highest `pcOpen` seen. */
  pcMaxOpen: number
  wsCreated: number
}

/** Count RTCPeerConnections (created, open, most open at once) and WebSockets. */
export function countConnections(): void {
  const probe = { pcCreated: 0, pcOpen: 0, pcMaxOpen: 0, wsCreated: 0 }
  ;(window as any).__probe = probe
  const NativePC = window.RTCPeerConnection
  const closed = new WeakSet<RTCPeerConnection>()
  const markClosed = (pc: RTCPeerConnection): void => {
    if (closed.has(pc)) return
    closed.add(pc)
    probe.pcOpen--
  }
  class CountedPC extends NativePC {
    constructor(config?: RTCConfiguration) {
      super(config)
      probe.pcCreated++
      probe.pcOpen++
      probe.pcMaxOpen = Math.max(probe.pcMaxOpen, probe.pcOpen)
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'closed') markClosed(this)
      })
    }

    override close(): void {
      markClosed(this)
      super.close()
    }
  }
  window.RTCPeerConnection = CountedPC
  const NativeWS = window.WebSocket
  window.WebSocket = class extends NativeWS {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      probe.wsCreated++
    }
  }
}

/** Make IndexedDB unusable, as some private modes do. */
export function breakIndexedDb(): void {
  IDBFactory.prototype.open = function open() {
    throw new DOMException('IndexedDB disabled by the test', 'InvalidStateError')
  }
}

/** Report `navigator.connection.saveData` as set. */
export function saveData(): void {
  Object.defineProperty(Navigator.prototype, 'connection', {
    get: () => ({ saveData: true, type: 'wifi' }),
    configurable: true
  })
}

/**
 * Misbehave on the data channel once this page has uploaded `afterBytes` of DATA frames
 * (wire type 4, 9-byte header): 'corrupt' flips a payload byte of every later DATA
 * frame (a lying peer), 'close' closes the channel (a peer leaving mid-transfer), 'stall'
 * silently drops every later frame (a peer that stops making progress).
 */
export function dataChannelFault({
  kind,
  afterBytes
}: {
  kind: 'corrupt' | 'close' | 'stall'
  afterBytes: number
}): void {
  const DATA = 4
  const HEADER = 9
  let sent = 0
  // Called with .call(this) below: the original, unbound on purpose.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const send = RTCDataChannel.prototype.send as (this: RTCDataChannel, data: ArrayBufferView) => void
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: any) {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined
    if (bytes === undefined || bytes[0] !== DATA) {
      send.call(this, data)
      return
    }
    if (sent < afterBytes) {
      sent += bytes.length - HEADER
      send.call(this, data)
      return
    }
    if (kind === 'stall') return
    if (kind === 'close') {
      this.close()
      return
    }
    const lie = bytes.slice()
    lie[HEADER] = lie[HEADER]! ^ 0xff
    send.call(this, lie)
  } as typeof RTCDataChannel.prototype.send
}
