/**
 * The browser entry of the p2p-media-loader-hlsjs arm: esbuild bundles it (with the
 * core's self-contained `p2pml:core-as-bundle` build) into one script that sets
 * `window.HlsJsP2PEngine`. hls.js itself is the page's, loaded beside it.
 */
import { HlsJsP2PEngine } from 'p2p-media-loader-hlsjs'

;(globalThis as unknown as { HlsJsP2PEngine: typeof HlsJsP2PEngine }).HlsJsP2PEngine = HlsJsP2PEngine
