import { bitfieldHas } from '../../../protocol/src/index.js'

/**
 * Bitfield bytes a peer may park with us for resources this page has no manifest for.
 * Such HAVEs are only useful if the page fetches the resource later; anything beyond
 * this is a peer growing our memory for nothing (4,000 HAVEs of 60 KB each once kept
 * 210 MiB in a tab).
 */
export const UNKNOWN_HAVE_BYTES = 64 * 1024
/** Resources without a manifest here that one peer's HAVEs are kept for. */
export const UNKNOWN_HAVE_RESOURCES = 64

/** Why a HAVE was refused: the peer that sent it is not worth keeping. */
export type HaveRefusal = 'chunk count does not match the manifest'

/**
 * What one peer announced, bounded. HAVEs for resources this page holds a manifest for
 * (or is fetching) are kept whole, after checking their chunk count against ours;
 * HAVEs for others are kept only within a small budget, oldest dropped first.
 */
export class HaveTable {
  readonly #known = new Map<string, Uint8Array>()
  /** Insertion order is age: the first entry is dropped first. */
  readonly #unknown = new Map<string, Uint8Array>()
  #unknownBytes = 0

  /** `chunksOf(id)`: the chunk count of our manifest for `id`, or undefined when we have none. */
  constructor(readonly chunksOf: (resourceId: string) => number | undefined) {}

  /** Bytes of bitfields held for resources without a manifest here. */
  get unknownBytes(): number {
    return this.#unknownBytes
  }

  set(resourceId: string, chunkCount: number, bitfield: Uint8Array): HaveRefusal | undefined {
    const expected = this.chunksOf(resourceId)
    this.#forgetUnknown(resourceId)
    if (expected !== undefined) {
      if (expected !== chunkCount) return 'chunk count does not match the manifest'
      this.#known.set(resourceId, bitfield)
      return undefined
    }
    this.#known.delete(resourceId)
    if (bitfield.length > UNKNOWN_HAVE_BYTES) return undefined
    this.#unknown.set(resourceId, bitfield)
    this.#unknownBytes += bitfield.length
    for (const [id, bits] of this.#unknown) {
      if (this.#unknownBytes <= UNKNOWN_HAVE_BYTES && this.#unknown.size <= UNKNOWN_HAVE_RESOURCES) break
      this.#unknown.delete(id)
      this.#unknownBytes -= bits.length
    }
    return undefined
  }

  get(resourceId: string): Uint8Array | undefined {
    const known = this.#known.get(resourceId)
    if (known !== undefined) return known
    const parked = this.#unknown.get(resourceId)
    const expected = this.chunksOf(resourceId)
    if (parked === undefined || expected === undefined) return parked
    // The page has a manifest for it now: a parked HAVE of the wrong size is no use.
    this.#forgetUnknown(resourceId)
    if (parked.length !== Math.ceil(expected / 8)) return undefined
    this.#known.set(resourceId, parked)
    return parked
  }

  has(resourceId: string, index: number): boolean {
    const bitfield = this.get(resourceId)
    return bitfield !== undefined && bitfieldHas(bitfield, index)
  }

  /** The peer said it lacks a chunk it announced: trust nothing it said about the resource. */
  clear(resourceId: string): void {
    this.#known.delete(resourceId)
    this.#forgetUnknown(resourceId)
  }

  #forgetUnknown(resourceId: string): void {
    const bits = this.#unknown.get(resourceId)
    if (bits === undefined) return
    this.#unknown.delete(resourceId)
    this.#unknownBytes -= bits.length
  }
}
