/** Share of the origin's free quota the chunk cache may take, leaving room for the site. */
const QUOTA_SHARE = 0.5

/**
 * The byte limit of the chunk cache: `cacheBytes`, lowered to fit what
 * `navigator.storage.estimate()` reports as free (bytes we already hold count as ours).
 */
export function cacheLimit(
  cacheBytes: number,
  estimate: { quota?: number; usage?: number } | undefined,
  heldBytes: number
): number {
  if (estimate?.quota === undefined) return cacheBytes
  const free = Math.max(0, estimate.quota - (estimate.usage ?? 0)) + heldBytes
  return Math.min(cacheBytes, Math.floor(free * QUOTA_SHARE))
}
