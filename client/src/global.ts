/**
 * The script-tag build: `window.P2PCDN`. With `data-tracker` (or `data-edges`) on the
 * script tag it creates an instance and upgrades `data-p2p-src` elements at once.
 */
import { Client } from './client.js'
import { create } from './index.js'
import { hlsjs } from './media/hlsjs.js'
import { shakaPlugin } from './media/shaka.js'
import { initFromScript, observe, upgradeAll, workerFromScript } from './script-tag.js'
import { unregisterServiceWorker, useServiceWorker } from './service-worker/page.js'

/**
 * `P2PCDN.upgrade(cdn)`: load `data-p2p-src` elements through an instance the page created.
 * `P2PCDN.hlsjs(cdn)` and `P2PCDN.shaka(cdn, shaka)`: the player integrations.
 * `P2PCDN.useServiceWorker(cdn, { url })` and `P2PCDN.unregisterServiceWorker()`: service-worker mode.
 */
export {
  create,
  Client,
  upgradeAll as upgrade,
  observe,
  hlsjs,
  shakaPlugin as shaka,
  useServiceWorker,
  unregisterServiceWorker
}

const script = typeof document === 'undefined' ? null : document.currentScript
const init = initFromScript(script)
const worker = workerFromScript(script)
if (worker === 'off') void unregisterServiceWorker()

/**
 * Resolves with the script tag's instance once the page's `data-p2p-src` elements are
 * loaded (elements added later are upgraded as they appear); with `undefined` when the
 * tag carries neither `data-tracker` nor `data-edges`.
 */
export const ready: Promise<Client | undefined> =
  init === undefined
    ? Promise.resolve(undefined)
    : (async () => {
        const cdn = create(init)
        // At once: a page the worker controls sends it requests while it still parses.
        if (worker !== undefined && worker !== 'off') useServiceWorker(cdn, worker)
        if (document.readyState === 'loading')
          await new Promise(resolve => document.addEventListener('DOMContentLoaded', resolve, { once: true }))
        const stop = observe(cdn)
        addEventListener('pagehide', stop, { once: true })
        await upgradeAll(cdn)
        return cdn
      })()
