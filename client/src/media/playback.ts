/** What `watchPlayback` reads of a media element (an HTMLMediaElement). */
export interface PlaybackElement {
  readonly seeking: boolean
  addEventListener: (type: string, listener: () => void) => void
  removeEventListener: (type: string, listener: () => void) => void
}

export interface PlaybackListener {
  /** The first frame played, `ms` after watching began. */
  started: (ms: number) => void
  stallBegan: () => void
  /** A stall ended (playing again, a seek, the end, or watching stopped) after `ms`. */
  stallEnded: (ms: number) => void
}

/**
 * Stalls as a viewer sees them: after playback started, a `waiting` that no seek
 * explains, until the next `playing`. A player's own buffering at start and after a
 * seek is not a stall (it is startup, or the viewer's choice). Returns the unwatch.
 */
export function watchPlayback(
  media: PlaybackElement,
  on: PlaybackListener,
  now: () => number = () => performance.now()
): () => void {
  const began = now()
  let started = false
  let stallAt: number | undefined
  const endStall = (): void => {
    if (stallAt === undefined) return
    on.stallEnded(now() - stallAt)
    stallAt = undefined
  }
  const listeners: Record<string, () => void> = {
    playing: () => {
      if (!started) {
        started = true
        on.started(now() - began)
      }
      endStall()
    },
    waiting: () => {
      if (!started || media.seeking || stallAt !== undefined) return
      stallAt = now()
      on.stallBegan()
    },
    seeking: endStall,
    ended: endStall,
    emptied: endStall
  }
  for (const [type, fn] of Object.entries(listeners)) media.addEventListener(type, fn)
  return () => {
    endStall()
    for (const [type, fn] of Object.entries(listeners)) media.removeEventListener(type, fn)
  }
}
