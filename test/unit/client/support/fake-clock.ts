import type { Clock } from '../../../../client/src/chunk-fetcher.js'

/**
 * A clock for scheduler unit tests: time moves only in `advance`, which runs due timers
 * in order and lets the promises they settle (and real async work such as WebCrypto)
 * run between steps.
 */
export class FakeClock implements Clock {
  #now = 0
  #seq = 0
  readonly #timers = new Map<number, { at: number; fn: () => void }>()

  now = (): number => this.#now

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq
    this.#timers.set(id, { at: this.#now + ms, fn })
    return id
  }

  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number)
  }

  /** Move time forward by `ms` in steps of `stepMs`, settling work after each step. */
  async advance(ms: number, stepMs = 10): Promise<void> {
    const end = this.#now + ms
    while (this.#now < end) {
      this.#now = Math.min(end, this.#now + stepMs)
      // A timer that re-arms itself at the same instant would spin here forever.
      for (let ran = 0; ; ran++) {
        if (ran > 10_000) throw new Error(`more than 10,000 timers due at ${this.#now} ms: a timer loop`)
        const due = [...this.#timers].filter(([, t]) => t.at <= this.#now).sort((a, b) => a[1].at - b[1].at)[0]
        if (due === undefined) break
        this.#timers.delete(due[0])
        due[1].fn()
      }
      await settle()
    }
  }

  /** Advance until `promise` settles or `limitMs` passes; returns the time it took. */
  async until(promise: Promise<unknown>, limitMs: number): Promise<number> {
    const start = this.#now
    let done = false
    promise.then(
      () => {
        done = true
      },
      () => {
        done = true
      }
    )
    await settle()
    while (!done && this.#now - start < limitMs) await this.advance(10)
    return this.#now - start
  }
}

/** Let pending promise callbacks and a few macrotasks (WebCrypto replies) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
}
