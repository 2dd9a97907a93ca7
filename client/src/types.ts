/** Where a chunk's bytes came from. */
export type Source = 'cache' | 'peer' | 'edge' | 'origin'

export type BytesBySource = Record<Source, number>

export interface ClientStats {
  /** Content bytes delivered to the page, by source. */
  bytes: BytesBySource
  /** Bytes sent to peers. */
  uploaded: number
  /** Share of network bytes that came from peers: peer / (peer + edge + origin); 0 before any. */
  offload: number
  /** Connected peers. */
  peers: Array<{ id: string, region: string }>
  /** This page's region (configured, else the nearest edge's). */
  region: string | undefined
  /** Base URL of the edge in use, nearest first. */
  edge: string | undefined
  /** Bytes by source for each fetched URL. */
  resources: Record<string, BytesBySource>
  /** Where chunks are kept: IndexedDB, or memory when IndexedDB is unavailable. */
  storage: 'indexeddb' | 'memory' | undefined
}

export interface ClientEvents {
  chunk: { url: string, index: number, source: Source, bytes: number, ms: number, peer?: string }
  peer: { id: string, region: string, connected: boolean }
  /** Something went wrong but the SDK recovered (a bad peer, a failing edge). */
  error: { code: string, message: string, peer?: string }
  /** IndexedDB was unavailable and chunks are kept in memory. */
  storage: { kind: 'memory', reason: string }
}

export function emptyBytes (): BytesBySource {
  return { cache: 0, peer: 0, edge: 0, origin: 0 }
}
