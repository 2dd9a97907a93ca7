import { parsePortReply, type PortAsk, type PortReply } from './messages.js'

/**
 * The worker's end of one request's exchange with a page. While a reply is due it pings
 * the page every `livenessMs` and gives up when three pings go unanswered (a closed or
 * frozen tab sends nothing, ever) or after `stallMs`. Only replies it asked for are
 * kept: one more, and the exchange fails.
 */
export class RelayPort {
  /** Runs once, when the exchange ends for any reason. */
  onClose: () => void = () => {}
  readonly #port: MessagePort
  readonly #livenessMs: number
  readonly #stallMs: number
  readonly #queue: unknown[] = []
  #wake: (() => void) | undefined
  #failure: Error | undefined
  #heardAt = Date.now()
  /** Replies owed: `accepted` and the answer, then one per pull. */
  #due = 2

  constructor(port: MessagePort, { livenessMs, stallMs }: { livenessMs: number; stallMs: number }) {
    this.#port = port
    this.#livenessMs = livenessMs
    this.#stallMs = stallMs
    port.onmessage = event => {
      this.#heardAt = Date.now()
      if (parsePortReply(event.data)?.type === 'alive') return
      // One reply per pull is the protocol: anything more would be queued here unbounded.
      if (this.#due === 0) this.fail(new Error('the serving page sent a reply nobody asked for'))
      else {
        this.#due--
        this.#queue.push(event.data)
      }
      this.#wake?.()
    }
  }

  ask(message: PortAsk): void {
    if (message.type === 'pull') this.#due++
    this.#port.postMessage(message)
  }

  /** The next reply, or the reason there is none (within `withinMs`, by default `stallMs`). */
  async reply(withinMs = this.#stallMs): Promise<PortReply> {
    const started = (this.#heardAt = Date.now())
    // Not the Clients API: a worker being replaced by an update no longer sees its pages there.
    const watchdog = setInterval(() => {
      const now = Date.now()
      if (now - started > withinMs) this.fail(new Error(`no answer from the serving page in ${withinMs} ms`))
      else if (now - this.#heardAt > 3 * this.#livenessMs) this.fail(new Error('the serving page is gone'))
      else this.ask({ type: 'ping' })
    }, this.#livenessMs)
    try {
      while (this.#queue.length === 0 && this.#failure === undefined)
        await new Promise<void>(resolve => (this.#wake = resolve))
    } finally {
      clearInterval(watchdog)
      this.#wake = undefined
    }
    if (this.#failure !== undefined) throw this.#failure
    const reply = parsePortReply(this.#queue.shift())
    if (reply === undefined) throw this.fail(new Error('malformed reply from the serving page'))
    return reply
  }

  close(): void {
    if (this.#failure === undefined) this.fail(new Error('closed'))
  }

  /** End the exchange: the page is told to stop, and every wait rejects with `reason`. */
  fail(reason: Error): Error {
    if (this.#failure === undefined) {
      this.#failure = reason
      this.#port.postMessage({ type: 'cancel' } satisfies PortAsk)
      this.#port.close()
      this.onClose()
    }
    this.#wake?.()
    return this.#failure
  }
}
