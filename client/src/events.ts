/** A typed event emitter small enough to read in one glance. */
export type Listener<T> = (event: T) => void

export class Emitter<EventMap extends object> {
  readonly #listeners = new Map<keyof EventMap, Set<Listener<never>>>()

  on<K extends keyof EventMap>(name: K, listener: Listener<EventMap[K]>): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) this.#listeners.set(name, (set = new Set()))
    set.add(listener)
    return () => this.off(name, listener)
  }

  off<K extends keyof EventMap>(name: K, listener: Listener<EventMap[K]>): void {
    this.#listeners.get(name)?.delete(listener)
  }

  emit<K extends keyof EventMap>(name: K, event: EventMap[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      // A throwing listener must not break delivery of content.
      try {
        ;(listener as Listener<EventMap[K]>)(event)
      } catch {}
    }
  }

  removeAll(): void {
    this.#listeners.clear()
  }
}
