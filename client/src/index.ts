import { Client } from './client.js'
import type { ClientInit } from './config.js'

export { Client } from './client.js'
export type { ClientInit, ClientConfig } from './config.js'
export type { ClientStats, ClientEvents, Source, BytesBySource, StreamStats } from './types.js'

/**
 * Create an SDK instance.
 * @example
 * const cdn = P2PCDN.create({ tracker: 'wss://tracker.example' })
 * const res = await cdn.fetch('/video.mp4')
 */
export function create(init?: ClientInit): Client {
  return new Client(init)
}
