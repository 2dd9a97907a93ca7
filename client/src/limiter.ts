/**
 * A counting semaphore: at most `max` holders at once, waiters served in order. Peers
 * and HTTP each get one, so a slow edge cannot starve peer requests or the other way.
 */
export class Limiter {
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor(readonly max: number) {}

  /** Free slots right now. */
  get idle(): number {
    return this.max - this.#active
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.#active < this.max) return this.#take()
    return await new Promise((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve(this.#take())
      }
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(wake)
        if (i >= 0) this.#waiting.splice(i, 1)
        reject(signal?.reason)
      }
      this.#waiting.push(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #take(): () => void {
    this.#active++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      this.#waiting.shift()?.()
    }
  }
}
