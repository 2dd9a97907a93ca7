/**
 * The few service-worker globals the worker uses, typed here: TypeScript's WebWorker
 * library cannot share one program with the DOM library the rest of client/ is checked in.
 */

export interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void
}

export interface FetchEvent extends ExtendableEvent {
  readonly request: Request
  readonly clientId: string
  readonly resultingClientId: string
  respondWith(response: Response | Promise<Response>): void
}

export interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown
  readonly source: { id: string } | MessagePort | ServiceWorker | null
}

export interface WorkerClient {
  readonly id: string
  readonly type: string
  postMessage(message: unknown, transfer?: Transferable[]): void
}

export interface Clients {
  get(id: string): Promise<WorkerClient | undefined>
  matchAll(options?: { type?: 'window' | 'worker' | 'all'; includeUncontrolled?: boolean }): Promise<WorkerClient[]>
  claim(): Promise<void>
}

export interface WorkerScope {
  readonly location: Location
  readonly clients: Clients
  skipWaiting(): Promise<void>
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void
  /** The operator's rules (see rules.ts), set before the worker is imported. */
  P2PCDN_RULES?: unknown
}
