/** Start in-process trackers and raw clients for a test file, and clean both up after each test. */
import { afterEach } from 'vitest'
import type { ClientOptions } from 'ws'
import { createTracker } from '../../tracker/src/index.js'
import type { Tracker, TrackerInit } from '../../tracker/src/index.js'
import { connectRaw, isAnnounceReply } from './tracker-client.js'
import type { Json, RawTrackerClient } from './tracker-client.js'

export interface TrackerHarness {
  start: (init?: TrackerInit) => Promise<Tracker>
  connect: (tracker: Tracker, options?: ClientOptions) => Promise<RawTrackerClient>
}

/** Call at the top level of a test file: registers the afterEach cleanup. */
export function useTrackers(): TrackerHarness {
  const running: Tracker[] = []
  const clients: RawTrackerClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map(async c => await c.close()))
    await Promise.all(running.splice(0).map(async t => await t.stop()))
  })
  return {
    async start(init = {}) {
      const tracker = createTracker({ port: 0, ...init })
      running.push(tracker)
      await tracker.start()
      return tracker
    },
    async connect(tracker, options) {
      const client = await connectRaw(tracker.url, options)
      clients.push(client)
      return client
    }
  }
}

/** Announce `started` in `infoHash` as `peerId` and return the reply. */
export async function join(
  client: RawTrackerClient,
  infoHash: string,
  peerId: string,
  extra: Json = {}
): Promise<Json> {
  client.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started', numwant: 0, ...extra })
  return await client.next(isAnnounceReply)
}
