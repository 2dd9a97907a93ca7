/**
 * A minimal WebSocket client for the load generator: the upgrade by hand, then pre-built
 * frames written with one `write` each, and incoming frames only delimited, never copied
 * or decoded. A full client (ws) spends about as much CPU per message as the server it
 * loads, so with it the generator, not the server, would set the pace.
 *
 * Client frames must be masked (RFC 6455 §5.3); a zero masking key leaves the payload as
 * it is, which lets every frame be built once and sent many times.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import type { Socket } from 'node:net'

/** A text frame, masked with the zero key: build once, send any number of times. */
export function textFrame(payload: Buffer): Buffer {
  const len = payload.length
  const head = len < 126 ? 2 : len < 65_536 ? 4 : 10
  const frame = Buffer.alloc(head + 4 + len)
  frame[0] = 0x81
  if (len < 126) frame[1] = 0x80 | len
  else if (len < 65_536) {
    frame[1] = 0x80 | 126
    frame.writeUInt16BE(len, 2)
  } else {
    frame[1] = 0x80 | 127
    frame.writeBigUInt64BE(BigInt(len), 2)
  }
  // Bytes head..head+3 stay zero: the masking key.
  payload.copy(frame, head + 4)
  return frame
}

/** A control frame (payload < 126 bytes), masked with the zero key. */
function controlFrame(firstByte: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(6 + payload.length)
  frame[0] = firstByte
  frame[1] = 0x80 | payload.length
  payload.copy(frame, 6)
  return frame
}

export interface RawSocket {
  readonly socket: Socket
  send: (frame: Buffer) => void
  close: () => void
}

/**
 * Open a WebSocket to `host:port` and call `onFrame(payload)` for every server frame.
 * `payload` is a view into the read buffer, valid only during the call. `localAddress`
 * binds the client end (any of 127.0.0.0/8 on Linux), to play several hosts.
 */
export function openRawSocket(
  host: string,
  port: number,
  onFrame: (payload: Buffer) => void,
  localAddress?: string
): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true, ...(localAddress === undefined ? {} : { localAddress }) })
    let buffered: Buffer | undefined
    let upgraded = false
    socket.once('error', reject)
    socket.on('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      )
    })
    socket.on('data', (chunk: Buffer) => {
      let data = buffered === undefined ? chunk : Buffer.concat([buffered, chunk])
      buffered = undefined
      if (!upgraded) {
        const end = data.indexOf('\r\n\r\n')
        if (end === -1) {
          buffered = data
          return
        }
        if (!data.subarray(0, 12).toString().includes('101')) {
          reject(new Error(`upgrade refused: ${data.subarray(0, end).toString()}`))
          socket.destroy()
          return
        }
        upgraded = true
        socket.off('error', reject)
        socket.on('error', () => {})
        resolve({
          socket,
          send: frame => {
            socket.write(frame)
          },
          close: () => {
            socket.destroy()
          }
        })
        data = data.subarray(end + 4)
      }
      let at = 0
      while (data.length - at >= 2) {
        let len = data[at + 1]! & 0x7f
        let head = 2
        if (len === 126) {
          if (data.length - at < 4) break
          len = data.readUInt16BE(at + 2)
          head = 4
        } else if (len === 127) {
          if (data.length - at < 10) break
          len = Number(data.readBigUInt64BE(at + 2))
          head = 10
        }
        if (data.length - at < head + len) break
        const opcode = data[at]! & 0x0f
        if (opcode === 0x1) onFrame(data.subarray(at + head, at + head + len))
        // Answer pings, or a tracker that detects dead sockets (ours does) drops this one.
        else if (opcode === 0x9) socket.write(controlFrame(0x8a, data.subarray(at + head, at + head + len)))
        at += head + len
      }
      if (at < data.length) buffered = Buffer.from(data.subarray(at))
    })
  })
}
