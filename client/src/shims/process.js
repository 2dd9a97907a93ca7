// readable-stream (inside simple-peer) expects Node's `process`; the npm shim provides nextTick.
export { default as process } from 'process/browser.js'
