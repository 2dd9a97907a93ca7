/** The parts of `navigator.connection` (Network Information API) the policy reads. */
export interface ConnectionInfo {
  saveData?: boolean
  type?: string
}

/**
 * Whether this visitor's device should serve peers right now: not when the page said
 * no, nor on a data-saving or cellular connection, where uploads cost the visitor money.
 */
export function uploadAllowed(upload: boolean, connection: ConnectionInfo | undefined): boolean {
  if (!upload) return false
  return connection?.saveData !== true && connection?.type !== 'cellular'
}

/**
 * A token bucket for the upload cap: `take(n)` resolves when `n` bytes may be sent at
 * `bytesPerSecond` (0 = no cap). The bucket holds at most one second of tokens.
 */
export class UploadBucket {
  #tokens: number
  #last: number

  constructor(
    readonly bytesPerSecond: number,
    readonly now: () => number = () => performance.now()
  ) {
    this.#tokens = bytesPerSecond
    this.#last = now()
  }

  /** Milliseconds to wait before `bytes` may go; takes them from the bucket. */
  reserve(bytes: number): number {
    if (this.bytesPerSecond === 0) return 0
    const now = this.now()
    this.#tokens = Math.min(this.bytesPerSecond, this.#tokens + ((now - this.#last) * this.bytesPerSecond) / 1000)
    this.#last = now
    this.#tokens -= bytes
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.bytesPerSecond
  }

  async take(bytes: number): Promise<void> {
    const wait = this.reserve(bytes)
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  }
}
