// The demo page: loads the site's resources through the SDK and shows, live, where
// every byte came from, and what the tracker sees.
const SOURCES = ['cache', 'peer', 'edge', 'origin']
const HISTORY = 120 // samples of 500 ms: the last minute
const kib = n => (n / 1024).toFixed(1) + ' KiB'
const $ = id => document.getElementById(id)

// sessionStorage is per tab and survives a reload: a reloaded tab finds its own cache.
const tab = sessionStorage.getItem('p2pcdn-demo-tab') ?? Math.random().toString(36).slice(2, 8)
sessionStorage.setItem('p2pcdn-demo-tab', tab)
const cdn = P2PCDN.create({
  tracker: document.body.dataset.tracker,
  manifestKey: document.body.dataset.manifestKey,
  storeName: `p2pcdn-demo-${tab}`
})
window.cdn = cdn

const history = []

/** Render the SDK's figures; returns what it rendered so tests can compare with the DOM. */
function renderStats() {
  const s = cdn.stats()
  $('offload').textContent = `${(s.offload * 100).toFixed(1)}%`
  $('region').textContent = s.region ?? '?'
  $('edge').textContent = s.edge ?? 'none'
  $('uploaded').textContent = kib(s.uploaded)
  $('peer-count').textContent = String(s.peers.length)
  $('peers').innerHTML = s.peers.map(p => `<li><code>…${p.id.slice(-12)}</code> in <b>${p.region}</b></li>`).join('')
  $('resources').innerHTML = Object.entries(s.resources)
    .map(([url, b]) => {
      const total = SOURCES.reduce((n, k) => n + b[k], 0) || 1
      const bar = SOURCES.map(k => `<div class="${k}" style="width:${((100 * b[k]) / total).toFixed(1)}%"></div>`).join(
        ''
      )
      return (
        `<tr><td>${new URL(url).pathname}</td>${SOURCES.map(k => `<td class="src-${k}">${kib(b[k])}</td>`).join('')}` +
        `<td><div class="bar">${bar}</div></td></tr>`
      )
    })
    .join('')
  return s
}

/** The video section: an HLS stream through `P2PCDN.hlsjs`; its bytes join the chart. */
function startVideo() {
  const section = $('video-section')
  if (section.dataset.src === '' || typeof Hls === 'undefined' || !Hls.isSupported()) {
    $('video-stats').textContent = section.dataset.noVideo || 'this browser cannot play HLS with hls.js'
    return
  }
  const p2p = P2PCDN.hlsjs(cdn, { stream: 'demo' })
  const hls = new Hls({ ...p2p.config })
  p2p.attach(hls)
  hls.loadSource(section.dataset.src)
  hls.attachMedia($('video'))
  $('video')
    .play()
    .catch(() => {}) // autoplay may be refused; the controls are there
  window.hls = hls
}

function renderVideo() {
  const v = cdn.stats().streams.demo
  if (v === undefined) return
  $('video-stats').textContent =
    `segments: ${v.segments} · from peers: ${(v.offload * 100).toFixed(1)}% · ` +
    `stalls: ${v.stalls} (${(v.stalledMs / 1000).toFixed(1)} s) · ` +
    SOURCES.map(k => `${k} ${kib(v.bytes[k])}`).join(' · ')
}

/** Stacked areas of cumulative bytes by source, oldest sample on the left. */
function renderChart() {
  const s = cdn.stats()
  history.push(SOURCES.map(k => s.bytes[k]))
  if (history.length > HISTORY) history.shift()
  const max = Math.max(1, ...history.map(h => h.reduce((a, b) => a + b, 0)))
  const x = i => ((400 * i) / (HISTORY - 1)).toFixed(1)
  const y = v => (150 - (150 * v) / max).toFixed(1)
  let below = history.map(() => 0)
  $('chart').innerHTML = SOURCES.map((k, j) => {
    const above = history.map((h, i) => below[i] + h[j])
    const top = above.map((v, i) => `${x(i)},${y(v)}`)
    const bottom = below.map((v, i) => `${x(i)},${y(v)}`).reverse()
    below = above
    return `<polygon class="${k}" points="${[...top, ...bottom].join(' ')}"/>`
  }).join('')
}

async function renderTracker() {
  const t = await (await fetch('/_demo/tracker-stats')).json()
  window.lastTrackerStats = t
  $('tracker-regions').innerHTML = Object.entries(t.peersByRegion)
    .map(([region, n]) => `<tr data-region="${region}"><td>${region}</td><td class="count">${n}</td></tr>`)
    .join('')
  $('tracker-edges').innerHTML = t.edgeList
    .map(
      e =>
        `<tr data-edge="${e.url}"><td>${e.url}</td><td>${e.region}</td><td class="connections">${e.connections}</td>` +
        `<td>${(e.bytesPerSec / 1024).toFixed(1)}</td><td>${(e.hitRatio * 100).toFixed(0)}%</td></tr>`
    )
    .join('')
  return t
}

async function loadBig() {
  $('big').textContent = 'loading…'
  const started = performance.now()
  const blob = await (await cdn.fetch('/media/sample-8mib.bin')).blob()
  $('big').textContent =
    `${(blob.size / 1048576).toFixed(2)} MiB in ${((performance.now() - started) / 1000).toFixed(2)} s`
}

window.demo = { renderStats, renderTracker, renderVideo }
setInterval(() => {
  renderStats()
  renderChart()
  renderVideo()
}, 500)
startVideo()
setInterval(() => {
  renderTracker().catch(() => {})
}, 2000)
renderTracker().catch(() => {})
$('again').onclick = () => {
  loadBig().then(renderStats)
}
P2PCDN.upgrade(cdn)
  .then(loadBig)
  .then(() => {
    renderStats()
    window.demoDone = true
  })
