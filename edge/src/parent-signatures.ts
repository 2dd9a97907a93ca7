/**
 * Signatures for a manifest from the parent edge, for a child that holds no signing key
 * of its own: the key then lives on the shield alone. The child still builds its
 * manifest from the bytes it stores; it takes the parent's signatures only when the
 * parent's manifest is the same canonical manifest (same URL, validator, chunk size and
 * chunk hashes), so a signature it relays is over exactly what it serves.
 */
import type { Readable } from 'node:stream'
import {
  EDGE_PATHS,
  MAX_MANIFEST_BYTES,
  errorMessageOf,
  parseManifest,
  serializeManifest
} from '../../protocol/src/index.js'
import type { Logger, Manifest, ManifestSignature } from '../../protocol/src/index.js'
import type { CdnLoop } from './cdn-loop.js'
import { appendVia } from './headers.js'
import type { Headers } from './headers.js'
import { discard } from './origin.js'
import type { OriginClient } from './origin.js'
import { EDGE_USER_AGENT } from './origin-request.js'

export interface ParentSignaturesInit {
  /** The client of the parent edge (`OriginClient.upstream` is the parent). */
  parent: OriginClient
  loop: CdnLoop
  logger: Logger
}

export interface SignatureRequest {
  /** Cache key (path and query) the manifest describes. */
  key: string
  manifest: Manifest
  /** The client request's `Via` and `CDN-Loop`, carried on so a loop of manifest requests is refused too. */
  headers: Record<string, string | string[] | undefined>
  /** For fair turns at the parent. */
  client: string
}

export interface ParentSignatures {
  /** The parent's signatures over `manifest`; none when it signs none or its manifest differs. Never rejects. */
  of: (req: SignatureRequest) => Promise<ManifestSignature[]>
}

export function createParentSignatures(init: ParentSignaturesInit): ParentSignatures {
  const { parent, loop, logger } = init
  // One request per stored manifest: concurrent clients share it, and a stored version
  // keeps its answer until it is replaced (the manifest object goes with its entry).
  const known = new WeakMap<Manifest, Promise<ManifestSignature[]>>()

  async function ask(req: SignatureRequest): Promise<ManifestSignature[]> {
    const headers: Headers = {
      'user-agent': EDGE_USER_AGENT,
      accept: 'application/json',
      'accept-encoding': 'identity',
      via: appendVia(req.headers.via),
      'cdn-loop': loop.append(req.headers['cdn-loop'])
    }
    const res = await parent.request({
      method: 'GET',
      path: `${EDGE_PATHS.manifest}?url=${encodeURIComponent(req.key)}`,
      headers,
      client: req.client
    })
    if (res.status !== 200) {
      discard(res.body)
      throw new Error(`parent answered ${res.status}`)
    }
    const theirs = parseManifest(await readBounded(res.body, MAX_MANIFEST_BYTES))
    if (serializeManifest(theirs) !== serializeManifest(req.manifest)) {
      logger.warn('parent-manifest-differs', { key: req.key, url: theirs.url, chunkSize: theirs.chunkSize })
      return []
    }
    return theirs.signatures ?? []
  }

  return {
    of(req) {
      let p = known.get(req.manifest)
      if (p === undefined) {
        p = ask(req).catch((err: unknown) => {
          // Not remembered: the next request asks again (the parent may be back).
          known.delete(req.manifest)
          logger.warn('parent-signatures-failed', { key: req.key, error: errorMessageOf(err) })
          return []
        })
        known.set(req.manifest, p)
      }
      return p
    }
  }
}

/** The body as text, refusing one past `max` bytes without holding more than that. */
async function readBounded(body: Readable, max: number): Promise<string> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > max) {
      discard(body)
      throw new Error(`parent manifest over ${max} bytes`)
    }
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts).toString('utf8')
}
