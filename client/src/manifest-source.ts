import { EDGE_PATHS, type Manifest } from '../../protocol/src/index.js'
import type { ClientConfig } from './config.js'
import type { EdgeSet } from './edge-set.js'
import { ManifestVerifier } from './manifest-verifier.js'

export interface ManifestSourceDeps {
  config: ClientConfig
  /** The edges in use now (they change when the tracker's list arrives). */
  edges: () => EdgeSet
  /**
   * The parsed manifest at `url` (an edge's manifest endpoint or a sidecar); rejects with
   * a coded error, `serverFault: true` when the server itself is unwell, ERR_TIMEOUT when
   * it did not answer in time (`fetchManifestAt`).
   */
  load: (url: string, signal: AbortSignal) => Promise<Manifest>
  report: (err: unknown, extra?: { url?: string }) => void
}

/**
 * Where a fetch gets its manifest, and whether it may believe it: the operator's edges
 * and sidecars only, and with `manifestKey` only what a configured key signed.
 */
export class ManifestSource {
  readonly #deps: ManifestSourceDeps
  /** Present when the page carries `manifestKey`: then no manifest is used unverified. */
  readonly #verifier: ManifestVerifier | undefined
  #saidUnverifiable = false

  constructor(deps: ManifestSourceDeps) {
    this.#deps = deps
    const keys = deps.config.manifestKey
    this.#verifier = keys.length === 0 ? undefined : new ManifestVerifier(keys)
  }

  /**
   * Manifests come only from allowed edges, or from the operator's sidecar next to the
   * resource (URL + `manifestSuffix`). With a `manifestKey` each must verify, and the
   * sidecar is asked first: signed at the origin, it holds even if an edge is not honest.
   * Undefined means no trusted manifest: the caller loads from the origin, without peers.
   */
  async get(url: string, signal: AbortSignal): Promise<Manifest | undefined> {
    const verifier = this.#verifier
    const suffix = this.#deps.config.manifestSuffix
    const unverifiable = await verifier?.unavailable()
    if (unverifiable !== undefined) {
      // No Ed25519 in this browser's WebCrypto: asking edges would only fetch what
      // cannot be trusted. Said once per instance; every resource comes from the origin.
      if (!this.#saidUnverifiable) this.#deps.report(unverifiable, { url })
      this.#saidUnverifiable = true
      return undefined
    }
    // The sidecar sits next to the resource: a fragment is not part of its URL.
    const sidecar = suffix === undefined ? undefined : url.replace(/#.*$/s, '') + suffix
    const fromSidecar = async (): Promise<Manifest> => await this.#deps.load(sidecar!, signal)
    if (verifier !== undefined && sidecar !== undefined) {
      const manifest = await this.#trusted(url, signal, fromSidecar)
      if (manifest !== undefined) return manifest
    }
    for (const edge of this.#deps.edges().usable()) {
      const at = `${edge.url}${EDGE_PATHS.manifest}?url=${encodeURIComponent(url)}`
      const manifest = await this.#trusted(url, signal, async () => await this.#deps.load(at, signal), edge.url)
      if (manifest !== undefined) return manifest
    }
    if (sidecar === undefined || verifier !== undefined) return undefined
    return await this.#trusted(url, signal, fromSidecar)
  }

  /** A manifest from `get`, verified when a key is configured; undefined (reported) when not usable. */
  async #trusted(
    url: string,
    signal: AbortSignal,
    get: () => Promise<Manifest>,
    edge?: string
  ): Promise<Manifest | undefined> {
    try {
      const manifest = await get()
      await this.#verifier?.verify(manifest, url)
      return manifest
    } catch (err) {
      signal.throwIfAborted()
      const code = (err as { code?: unknown }).code
      this.#deps.report(err, { url })
      // An edge whose manifest does not verify is set aside like a failing (or too slow)
      // one: its chunks would not match a trusted manifest either.
      const unwell = code === 'ERR_TIMEOUT' || (err as { serverFault?: boolean }).serverFault === true
      if (edge !== undefined && (code === 'ERR_SIGNATURE' || unwell)) this.#deps.edges().failed(edge)
      return undefined
    }
  }
}
