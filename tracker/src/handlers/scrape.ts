/** `scrape`: swarm counts, shaped like bittorrent-tracker's `_onScrape` reply. */
import type { ScrapeRequest, ScrapeResponse } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { TrackerContext } from './context.js'

/** Most swarms reported by a scrape that names none. */
export const MAX_SCRAPE_ALL_SWARMS = 100

/** Reply with the counts of the named swarms (all, capped, when none is named). */
export function handleScrape(ctx: TrackerContext, conn: Connection, msg: ScrapeRequest): void {
  // No info_hash means every swarm, as in bittorrent-tracker; capped so that one small
  // request cannot ask for a reply the size of the whole tracker.
  const infoHashes = msg.info_hash.length > 0 ? msg.info_hash : firstSwarms(ctx, MAX_SCRAPE_ALL_SWARMS)
  const files: ScrapeResponse['files'] = {}
  for (const infoHash of infoHashes) {
    const swarm = ctx.swarms.get(infoHash)
    const complete = swarm?.complete ?? 0
    // bittorrent-tracker keeps no download count either and reports `complete` as its lower bound.
    files[infoHash] = { complete, incomplete: swarm?.incomplete ?? 0, downloaded: complete }
  }
  const reply: ScrapeResponse & { flags: { min_request_interval: number } } = {
    action: 'scrape',
    files,
    flags: { min_request_interval: ctx.config.announceIntervalS }
  }
  conn.send(reply)
}

/** Up to `max` info_hashes, without copying the whole swarm list first. */
function firstSwarms(ctx: TrackerContext, max: number): string[] {
  const out: string[] = []
  for (const swarm of ctx.swarms.values()) {
    if (out.length >= max) break
    out.push(swarm.infoHash)
  }
  return out
}
