// `readable-stream` stand-in (36 KB minified with its buffer/events/process needs): the
// part of stream.Duplex that simple-peer touches. push(data) becomes a 'data' event;
// data pushed before anyone listens is queued, as a paused Readable would hold it.
class Emitter {
  constructor() {
    this._events = new Map()
  }
  on(name, fn) {
    const list = this._events.get(name) ?? []
    this._events.set(name, [...list, fn])
    return this
  }
  once(name, fn) {
    const once = (...args) => {
      this.removeListener(name, once)
      fn.apply(this, args)
    }
    once.listener = fn
    return this.on(name, once)
  }
  removeListener(name, fn) {
    const list = this._events.get(name)
    if (list !== undefined)
      this._events.set(
        name,
        list.filter(l => l !== fn && l.listener !== fn)
      )
    return this
  }
  off(name, fn) {
    return this.removeListener(name, fn)
  }
  removeAllListeners(name) {
    if (name === undefined) this._events.clear()
    else this._events.delete(name)
    return this
  }
  listenerCount(name) {
    return this._events.get(name)?.length ?? 0
  }
  emit(name, ...args) {
    const list = this._events.get(name)
    if (list === undefined || list.length === 0) return false
    for (const fn of list) fn.apply(this, args)
    return true
  }
}

class Duplex extends Emitter {
  constructor() {
    super()
    this._readableState = { ended: false }
    this._writableState = { finished: false }
    this.readable = this.writable = true
    this._queued = []
  }
  on(name, fn) {
    super.on(name, fn)
    if (name === 'data' && this._queued.length > 0) queueMicrotask(() => this._flush())
    return this
  }
  push(data) {
    if (data === null) {
      if (!this._readableState.ended) {
        this._readableState.ended = true
        this.emit('end')
      }
      return false
    }
    if (this._queued.length > 0 || this.listenerCount('data') === 0) this._queued.push(data)
    else this.emit('data', data)
    return true
  }
  end() {
    if (this._writableState.finished) return
    this._writableState.finished = true
    this.emit('finish')
  }
  _flush() {
    while (this._queued.length > 0 && this.listenerCount('data') > 0) this.emit('data', this._queued.shift())
  }
}

module.exports = { Duplex }
