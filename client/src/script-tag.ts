import type { Client } from './client.js'
import type { ClientInit } from './config.js'
import type { WorkerSetup } from './service-worker/page.js'

/** Elements whose `data-p2p-src` is upgraded, and the attribute that receives the blob URL. */
const TARGETS: Record<string, 'src' | 'href'> = { IMG: 'src', VIDEO: 'src', AUDIO: 'src', SOURCE: 'src', A: 'href' }

/** Options from the script tag's data attributes. */
export function initFromScript(script: HTMLOrSVGScriptElement | null): ClientInit | undefined {
  if (!(script instanceof HTMLScriptElement)) return undefined
  const d = script.dataset
  if (d.tracker === undefined && d.edges === undefined) return undefined
  const init: ClientInit = {}
  if (d.tracker !== undefined) init.tracker = d.tracker
  if (d.swarm !== undefined) init.swarm = d.swarm
  if (d.region !== undefined) init.region = d.region
  if (d.store !== undefined) init.storeName = d.store
  const list = (value: string): string[] => value.split(/[\s,]+/).filter(Boolean)
  if (d.edges !== undefined) init.edges = list(d.edges)
  if (d.edgeOrigins !== undefined) init.edgeOrigins = list(d.edgeOrigins)
  if (d.manifestKey !== undefined) init.manifestKey = list(d.manifestKey)
  if (d.manifestSuffix !== undefined) init.manifestSuffix = d.manifestSuffix
  if (d.upload !== undefined) init.upload = d.upload !== 'false' && d.upload !== 'off'
  if (d.consent === 'required') init.consent = 'required'
  // `data-stats="off"` sends no summaries to the tracker; a number is their interval in ms.
  if (d.stats !== undefined) init.statsIntervalMs = d.stats === 'off' || d.stats === 'false' ? 0 : Number(d.stats)
  return init
}

/**
 * Service-worker mode from `data-service-worker` (the worker file's URL on the site) and
 * `data-service-worker-scope`; `'off'` for `data-service-worker="off"`, which removes the
 * worker a page registered before.
 */
export function workerFromScript(script: HTMLOrSVGScriptElement | null): WorkerSetup | 'off' | undefined {
  if (!(script instanceof HTMLScriptElement)) return undefined
  const { serviceWorker: url, serviceWorkerScope: scope } = script.dataset
  if (url === undefined || url === '') return undefined
  if (url === 'off' || url === 'false') return 'off'
  return scope === undefined ? { url } : { url, scope }
}

/** Replace `data-p2p-src` with a blob URL of what `cdn.fetch` returned. */
export async function upgradeElement(cdn: Client, el: Element): Promise<void> {
  const attr = TARGETS[el.tagName]
  const src = el.getAttribute('data-p2p-src')
  if (attr === undefined || src === null) return
  el.removeAttribute('data-p2p-src')
  const res = await cdn.fetch(src)
  if (!res.ok) throw new Error(`${src}: ${res.status}`)
  el.setAttribute(attr, URL.createObjectURL(await res.blob()))
  el.setAttribute('data-p2p-loaded', '')
  // A <source> is only read when its media element loads again.
  if (el.tagName === 'SOURCE' && el.parentElement instanceof HTMLMediaElement) el.parentElement.load()
}

/**
 * Upgrade `data-p2p-src` elements added to (or set in) the document later, until the
 * returned function is called.
 */
export function observe(cdn: Client, root: Node = document): () => void {
  const observer = new MutationObserver(records => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target instanceof Element) void upgradeElement(cdn, r.target).catch(() => {})
      for (const node of r.addedNodes) {
        if (!(node instanceof Element)) continue
        if (node.hasAttribute('data-p2p-src')) void upgradeElement(cdn, node).catch(() => {})
        void upgradeAll(cdn, node)
      }
    }
  })
  observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-p2p-src'] })
  return () => observer.disconnect()
}

/** Upgrade every element with `data-p2p-src` in the document; resolves when all are done. */
export async function upgradeAll(cdn: Client, root: ParentNode = document): Promise<void> {
  await Promise.allSettled([...root.querySelectorAll('[data-p2p-src]')].map(async el => await upgradeElement(cdn, el)))
}
