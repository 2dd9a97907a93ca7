/**
 * Peer wire protocol: binary frames on one data channel per peer pair. Every frame
 * starts with a one-byte type; integers are big-endian u32; resource ids travel as
 * their 32 raw bytes and are hex strings in code. Frames stay under MAX_FRAME_BYTES,
 * so a chunk travels as several DATA frames, each with its offset in the chunk.
 */
import { MAX_FRAME_BYTES, RESOURCE_ID_BYTES } from './constants.js'
import { fromHex, toHex } from './encoding.js'
import { InvalidMessageError } from './errors.js'

export const FrameType = {
  HANDSHAKE: 1,
  HAVE: 2,
  REQUEST: 3,
  DATA: 4,
  ABSENT: 5,
  CANCEL: 6,
  // Additions to the v1 core frames start at 16, leaving room next to the core ones.
  HAVE_END: 16,
  FETCHING: 17
} as const

/** Opens every connection; a peer with another major version is dropped. */
export interface HandshakeFrame {
  type: typeof FrameType.HANDSHAKE
  version: number
}
/** Which chunks of `resourceId` the sender holds. `bitfield` has `chunkCount` bits, MSB first. */
export interface HaveFrame {
  type: typeof FrameType.HAVE
  resourceId: string
  chunkCount: number
  bitfield: Uint8Array
}
export interface RequestFrame {
  type: typeof FrameType.REQUEST
  requestId: number
  resourceId: string
  index: number
}
/** Part of the chunk asked for by `requestId`, starting at `offset` within the chunk. */
export interface DataFrame {
  type: typeof FrameType.DATA
  requestId: number
  offset: number
  bytes: Uint8Array
}
/** The sender does not have (or will not send) what `requestId` asked for. */
export interface AbsentFrame {
  type: typeof FrameType.ABSENT
  requestId: number
}
/** The requester no longer wants `requestId`. */
export interface CancelFrame {
  type: typeof FrameType.CANCEL
  requestId: number
}

/**
 * Sent once after the HAVE frames that follow the handshake: the receiver now knows all
 * the sender held at connect time, so a fetch need not wait longer for this peer.
 */
export interface HaveEndFrame {
  type: typeof FrameType.HAVE_END
}

/**
 * Which chunks of `resourceId` the sender is fetching over HTTP right now (the whole set,
 * replacing the last one; an empty bitfield: none). A receiver that wants them waits for
 * the sender's HAVE instead of fetching a second copy, while its deadline allows: in a
 * live swarm each new segment then leaves the edge about once. Same layout as HAVE.
 */
export interface FetchingFrame {
  type: typeof FrameType.FETCHING
  resourceId: string
  chunkCount: number
  bitfield: Uint8Array
}

export type Frame =
  HandshakeFrame | HaveFrame | RequestFrame | DataFrame | AbsentFrame | CancelFrame | HaveEndFrame | FetchingFrame

/** Bytes of a DATA frame before its payload. */
export const DATA_HEADER_BYTES = 9

function resourceIdBytes(id: string): Uint8Array {
  const bytes = fromHex(id, RESOURCE_ID_BYTES)
  if (bytes === undefined) throw new TypeError(`resourceId must be ${RESOURCE_ID_BYTES * 2} lowercase hex characters`)
  return bytes
}

function u32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new TypeError(`${name} must be a u32`)
  return value
}

export function encodeFrame(frame: Frame): Uint8Array {
  let out: Uint8Array
  switch (frame.type) {
    case FrameType.HANDSHAKE:
      if (!Number.isInteger(frame.version) || frame.version < 0 || frame.version > 0xff)
        throw new TypeError('version must be a u8')
      out = Uint8Array.of(frame.type, frame.version)
      break
    case FrameType.HAVE:
    case FrameType.FETCHING: {
      const bytes = Math.ceil(frame.chunkCount / 8)
      if (frame.bitfield.length !== bytes) throw new TypeError('bitfield length does not match chunkCount')
      out = new Uint8Array(1 + RESOURCE_ID_BYTES + 4 + bytes)
      out.set(resourceIdBytes(frame.resourceId), 1)
      new DataView(out.buffer).setUint32(1 + RESOURCE_ID_BYTES, u32(frame.chunkCount, 'chunkCount'))
      out.set(frame.bitfield, 1 + RESOURCE_ID_BYTES + 4)
      break
    }
    case FrameType.REQUEST: {
      out = new Uint8Array(1 + 4 + RESOURCE_ID_BYTES + 4)
      const view = new DataView(out.buffer)
      view.setUint32(1, u32(frame.requestId, 'requestId'))
      out.set(resourceIdBytes(frame.resourceId), 5)
      view.setUint32(5 + RESOURCE_ID_BYTES, u32(frame.index, 'index'))
      break
    }
    case FrameType.DATA: {
      out = new Uint8Array(DATA_HEADER_BYTES + frame.bytes.length)
      const view = new DataView(out.buffer)
      view.setUint32(1, u32(frame.requestId, 'requestId'))
      view.setUint32(5, u32(frame.offset, 'offset'))
      out.set(frame.bytes, DATA_HEADER_BYTES)
      break
    }
    case FrameType.ABSENT:
    case FrameType.CANCEL:
      out = new Uint8Array(5)
      new DataView(out.buffer).setUint32(1, u32(frame.requestId, 'requestId'))
      break
    case FrameType.HAVE_END:
      out = new Uint8Array(1)
      break
  }
  out[0] = frame.type
  if (out.length > MAX_FRAME_BYTES) throw new TypeError(`frame of ${out.length} bytes exceeds ${MAX_FRAME_BYTES}`)
  return out
}

/** Decode one frame. Throws `InvalidMessageError` on anything malformed. */
export function decodeFrame(data: Uint8Array): Frame {
  if (data.length === 0) throw new InvalidMessageError('empty frame')
  if (data.length > MAX_FRAME_BYTES)
    throw new InvalidMessageError(`frame of ${data.length} bytes exceeds ${MAX_FRAME_BYTES}`)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const need = (n: number, exact = true): void => {
    if (exact ? data.length !== n : data.length < n)
      throw new InvalidMessageError(`frame type ${data[0]!} has wrong length ${data.length}`)
  }
  const type = data[0]
  switch (type) {
    case FrameType.HANDSHAKE:
      need(2)
      return { type, version: data[1]! }
    case FrameType.HAVE:
    case FrameType.FETCHING: {
      need(1 + RESOURCE_ID_BYTES + 4, false)
      const chunkCount = view.getUint32(1 + RESOURCE_ID_BYTES)
      need(1 + RESOURCE_ID_BYTES + 4 + Math.ceil(chunkCount / 8))
      return {
        type,
        resourceId: toHex(data.subarray(1, 1 + RESOURCE_ID_BYTES)),
        chunkCount,
        bitfield: data.slice(1 + RESOURCE_ID_BYTES + 4)
      }
    }
    case FrameType.REQUEST:
      need(1 + 4 + RESOURCE_ID_BYTES + 4)
      return {
        type,
        requestId: view.getUint32(1),
        resourceId: toHex(data.subarray(5, 5 + RESOURCE_ID_BYTES)),
        index: view.getUint32(5 + RESOURCE_ID_BYTES)
      }
    case FrameType.DATA:
      need(DATA_HEADER_BYTES, false)
      return { type, requestId: view.getUint32(1), offset: view.getUint32(5), bytes: data.subarray(DATA_HEADER_BYTES) }
    case FrameType.ABSENT:
    case FrameType.CANCEL:
      need(5)
      return { type, requestId: view.getUint32(1) }
    case FrameType.HAVE_END:
      need(1)
      return { type }
    default:
      throw new InvalidMessageError(`unknown frame type ${String(type)}`)
  }
}

/** A bitfield of `count` bits with the given indices set (MSB first, as in BitTorrent). */
export function bitfieldOf(count: number, indices: Iterable<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(count / 8))
  for (const i of indices) if (i >= 0 && i < count) out[i >> 3]! |= 0x80 >> (i & 7)
  return out
}

export function bitfieldHas(bitfield: Uint8Array, index: number): boolean {
  return ((bitfield[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0
}
