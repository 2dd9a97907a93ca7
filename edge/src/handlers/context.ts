/** What every request handler gets: config, collaborators and the counters it bumps. */
import type { Logger, Now } from '../../../protocol/src/index.js'
import type { Cache } from '../cache/cache.js'
import type { CdnLoop } from '../cdn-loop.js'
import type { EdgeConfig } from '../config.js'
import type { Filler } from '../filler.js'
import type { ManifestSigner } from '../manifest-signer.js'
import type { EdgeCounters, EdgeMetrics } from '../metrics.js'
import type { OriginClient } from '../origin.js'
import type { ParentSignatures } from '../parent-signatures.js'
import type { PublicAddress } from '../origin-request.js'
import type { Throttle } from '../throttle.js'

export type { EdgeCounters } from '../metrics.js'

export interface HandlerContext {
  config: EdgeConfig
  cache: Cache
  filler: Filler
  origin: OriginClient
  counters: EdgeCounters
  metrics: EdgeMetrics
  /** Present when `maxBytesPerSec` is set. */
  throttle: Throttle | undefined
  log: Logger
  /** Signs every manifest served, with `manifestKey`; undefined when none is configured. */
  signer: ManifestSigner | undefined
  /** With a parent and no `signer`: the parent's signatures, relayed onto manifests. */
  parentSignatures: ParentSignatures | undefined
  /** This edge's `CDN-Loop` member: added upstream, and how loops back here are told. */
  loop: CdnLoop
  /** Where clients reach this edge (known once listening). */
  publicAddress: () => PublicAddress
  /** The edge's clock (`EdgeInit.now`), for freshness and ages. */
  now: Now
}
