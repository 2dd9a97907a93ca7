/**
 * The `/dashboard` page: one self-contained HTML document (inline CSS and script, charts
 * drawn as inline SVG, nothing loaded from elsewhere) that polls `/dashboard.json` every
 * 2 s (`?every=MS` to change). Every figure shown also carries its exact value in a
 * `data-value` attribute, for scripts and tests.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2pcdn dashboard</title>
<style>
:root { --peer: #2a9d8f; --edge: #e9c46a; --origin: #e76f51; --cache: #8d99ae; --ink: #1d2430; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; }
header .note { color: var(--muted); font-size: 12px; }
header .status { margin-left: auto; color: var(--muted); font-size: 12px; }
main { display: grid; grid-template-columns: repeat(12, 1fr); gap: 16px; padding: 16px 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 0; }
section h2 { margin: 0 0 8px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.w3 { grid-column: span 3; } .w4 { grid-column: span 4; } .w6 { grid-column: span 6; } .w8 { grid-column: span 8; } .w12 { grid-column: span 12; }
@media (max-width: 900px) { .w3, .w4, .w6, .w8 { grid-column: span 12; } }
.big { font-size: 30px; font-weight: 600; }
.sub { color: var(--muted); font-size: 12px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { text-align: right; padding: 4px 5px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
th { color: var(--muted); font-weight: 500; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px; font-size: 12px; color: var(--muted); }
.legend i { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
svg { display: block; width: 100%; }
.bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; display: flex; min-width: 80px; }
.bar b { display: block; height: 100%; }
.empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header>
  <h1>p2pcdn fleet</h1>
  <span class="note">Figures are self-reported by visitors' browsers and clamped by the tracker.</span>
  <span class="status" id="status">loading…</span>
</header>
<main>
  <section class="w3"><h2>Offload</h2><div class="big" id="offload" data-value="0">–</div><div class="sub">peer share of network bytes</div></section>
  <section class="w3"><h2>Network bytes</h2><div class="big" id="network" data-value="0">–</div><div class="sub" id="split"></div></section>
  <section class="w3"><h2>Saved at the edge</h2><div class="big" id="saved" data-value="0">–</div><div class="sub">bytes peers carried instead</div></section>
  <section class="w3"><h2>WebRTC connections</h2><div class="big" id="conn-rate" data-value="0">–</div><div class="sub" id="conn-sub"></div></section>
  <section class="w6"><h2>Offload over time</h2><div id="offload-chart"></div></section>
  <section class="w6"><h2>Bytes by source over time</h2><div class="legend" id="legend"></div><div id="bytes-chart"></div></section>
  <section class="w4"><h2>Bytes by source</h2><table id="sources"></table></section>
  <section class="w4"><h2>Why bytes came over HTTP</h2><table id="reasons"></table></section>
  <section class="w4"><h2>By region</h2><table id="regions"></table></section>
  <section class="w8"><h2>Top resources</h2><table id="resources"></table></section>
  <section class="w4"><h2>Swarms</h2><table id="swarms"></table></section>
  <section class="w12"><h2>Edges</h2><table id="edges"></table></section>
</main>
<script>
(function () {
  'use strict';
  var SOURCES = ['peer', 'edge', 'origin', 'cache'];
  var COLORS = { peer: 'var(--peer)', edge: 'var(--edge)', origin: 'var(--origin)', cache: 'var(--cache)' };
  var REASONS = {
    'no-peer': 'no peer had the chunk', 'deadline': 'player deadline (urgent window)',
    'peer-slow': 'peer too slow (stall, choke)', 'peer-error': 'peer request failed',
    'peer-integrity': 'peer sent bad bytes', 'p2p-off': 'P2P off or no consent', 'no-manifest': 'no manifest'
  };
  var every = Number(new URLSearchParams(location.search).get('every')) || 2000;
  var $ = function (id) { return document.getElementById(id); };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function fmt(n) {
    var u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(n) : n.toFixed(n >= 100 ? 0 : 1)) + ' ' + u[i];
  }
  function pct(x) { return (100 * x).toFixed(1) + '%'; }
  function net(b) { return b.peer + b.edge + b.origin; }
  function offload(b) { var n = net(b); return n === 0 ? 0 : b.peer / n; }
  function val(el, value, text) { el.setAttribute('data-value', String(value)); el.textContent = text; }
  function cell(value, text) { return '<td data-value="' + esc(value) + '">' + esc(text) + '</td>'; }
  function bar(b) {
    var total = net(b) + b.cache, html = '<div class="bar">';
    if (total > 0) SOURCES.forEach(function (s) { html += '<b style="width:' + (100 * b[s] / total) + '%;background:' + COLORS[s] + '"></b>'; });
    return html + '</div>';
  }
  function byteRows(rows, label, wide) {
    if (rows.length === 0) return '<tr><td class="empty">no reports yet</td></tr>';
    var html = '<tr><th>' + label + '</th><th>peer</th><th>edge</th><th>origin</th><th>cache</th><th>offload</th>' + (wide ? '<th></th>' : '') + '</tr>';
    rows.forEach(function (r) {
      html += '<tr data-key="' + esc(r.key) + '"><td title="' + esc(r.key) + '">' + esc(r.key) + '</td>' +
        cell(r.bytes.peer, fmt(r.bytes.peer)) + cell(r.bytes.edge, fmt(r.bytes.edge)) + cell(r.bytes.origin, fmt(r.bytes.origin)) +
        cell(r.bytes.cache, fmt(r.bytes.cache)) + cell(offload(r.bytes), pct(offload(r.bytes))) + (wide ? '<td>' + bar(r.bytes) + '</td>' : '') + '</tr>';
    });
    return html;
  }
  function rowsOf(record) {
    return Object.keys(record).map(function (k) { return { key: k, bytes: record[k] }; })
      .sort(function (a, b) { return net(b.bytes) + b.bytes.cache - net(a.bytes) - a.bytes.cache; });
  }
  function lineChart(points) {
    var W = 600, H = 160, P = 28;
    if (points.length === 0) return '<p class="empty">no reports yet</p>';
    var t0 = points[0].t, t1 = points[points.length - 1].t, span = Math.max(1, t1 - t0);
    var xy = points.map(function (p) {
      return [P + (W - 2 * P) * (points.length === 1 ? 1 : (p.t - t0) / span), H - P - (H - 2 * P) * offload(p.bytes)];
    });
    var path = xy.map(function (p, i) { return (i === 0 ? 'M' : 'L') + p[0].toFixed(1) + ' ' + p[1].toFixed(1); }).join(' ');
    var grid = '';
    [0, 0.5, 1].forEach(function (g) {
      var y = H - P - (H - 2 * P) * g;
      grid += '<line x1="' + P + '" x2="' + (W - P) + '" y1="' + y + '" y2="' + y + '" stroke="#e5e7eb"/>' +
        '<text x="2" y="' + (y + 4) + '" font-size="10" fill="#6b7280">' + (g * 100) + '%</text>';
    });
    var dots = xy.map(function (p) { return '<circle cx="' + p[0] + '" cy="' + p[1] + '" r="2.5" fill="var(--peer)"/>'; }).join('');
    return '<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="offload over time">' + grid +
      '<path d="' + path + '" fill="none" stroke="var(--peer)" stroke-width="2"/>' + dots +
      '<text x="' + P + '" y="' + (H - 6) + '" font-size="10" fill="#6b7280">' + new Date(t0).toLocaleTimeString() + '</text>' +
      '<text x="' + (W - P) + '" y="' + (H - 6) + '" font-size="10" fill="#6b7280" text-anchor="end">' + new Date(t1).toLocaleTimeString() + '</text></svg>';
  }
  function stackChart(points) {
    var W = 600, H = 160, P = 28;
    if (points.length === 0) return '<p class="empty">no reports yet</p>';
    var max = Math.max.apply(null, points.map(function (p) { return net(p.bytes) + p.bytes.cache; })) || 1;
    var n = Math.max(points.length, 12), w = (W - 2 * P) / n, html = '';
    points.forEach(function (p, i) {
      var y = H - P, x = P + (n - points.length + i) * w;
      SOURCES.forEach(function (s) {
        var h = (H - 2 * P) * p.bytes[s] / max;
        if (h <= 0) return;
        y -= h;
        html += '<rect x="' + (x + 1).toFixed(1) + '" y="' + y.toFixed(1) + '" width="' + Math.max(1, w - 2).toFixed(1) + '" height="' + h.toFixed(1) + '" fill="' + COLORS[s] + '"><title>' + s + ' ' + fmt(p.bytes[s]) + '</title></rect>';
      });
    });
    return '<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="bytes by source over time">' +
      '<text x="2" y="' + (P - 6) + '" font-size="10" fill="#6b7280">' + fmt(max) + '</text>' +
      '<line x1="' + P + '" x2="' + (W - P) + '" y1="' + (H - P) + '" y2="' + (H - P) + '" stroke="#e5e7eb"/>' + html + '</svg>';
  }
  function render(d) {
    var f = d.fleet, b = f.totals.bytes, n = net(b), c = f.totals.connections;
    val($('offload'), offload(b), pct(offload(b)));
    val($('network'), n, fmt(n));
    $('split').textContent = 'peer ' + fmt(b.peer) + ' · edge ' + fmt(b.edge) + ' · origin ' + fmt(b.origin) + ' · cache ' + fmt(b.cache);
    val($('saved'), b.peer, fmt(b.peer));
    var rate = c.attempted === 0 ? 0 : (c.attempted - c.failed) / c.attempted;
    val($('conn-rate'), rate, c.attempted === 0 ? '–' : pct(rate));
    $('conn-sub').innerHTML = '<span id="conn-attempted" data-value="' + c.attempted + '">' + c.attempted + ' attempted</span>, <span id="conn-failed" data-value="' + c.failed + '">' + c.failed + ' failed</span>';
    $('offload-chart').innerHTML = lineChart(f.series);
    $('bytes-chart').innerHTML = stackChart(f.series);
    $('legend').innerHTML = SOURCES.map(function (s) { return '<span><i style="background:' + COLORS[s] + '"></i>' + s + '</span>'; }).join('');
    var src = '<tr><th>source</th><th>bytes</th><th>share</th></tr>', all = n + b.cache;
    SOURCES.forEach(function (s) {
      src += '<tr data-key="' + s + '"><td><span class="legend"><span><i style="background:' + COLORS[s] + '"></i>' + s + '</span></span></td>' +
        cell(b[s], fmt(b[s])) + cell(all === 0 ? 0 : b[s] / all, pct(all === 0 ? 0 : b[s] / all)) + '</tr>';
    });
    $('sources').innerHTML = src;
    var http = b.edge + b.origin, rs = '<tr><th>reason</th><th>bytes</th><th>of HTTP</th></tr>';
    Object.keys(REASONS).sort(function (x, y) { return f.totals.http[y] - f.totals.http[x]; }).forEach(function (r) {
      var v = f.totals.http[r];
      rs += '<tr data-key="' + r + '"><td>' + esc(REASONS[r]) + '</td>' + cell(v, fmt(v)) + cell(http === 0 ? 0 : v / http, pct(http === 0 ? 0 : v / http)) + '</tr>';
    });
    $('reasons').innerHTML = rs;
    $('regions').innerHTML = byteRows(rowsOf(f.regions), 'region', false);
    $('swarms').innerHTML = byteRows(rowsOf(f.swarms), 'swarm', false);
    $('resources').innerHTML = byteRows(f.resources.map(function (r) { return { key: r.url, bytes: r.bytes }; }), 'resource', true);
    var eh = d.edges.length === 0 ? '<tr><td class="empty">no edge registered</td></tr>' :
      '<tr><th>edge</th><th>region</th><th>connections</th><th>bytes/s</th><th>load</th><th>hit ratio</th></tr>';
    d.edges.forEach(function (e) {
      var load = e.capacity > 0 ? e.bytesPerSec / e.capacity : 0;
      eh += '<tr data-key="' + esc(e.url) + '"><td>' + esc(e.url) + '</td><td>' + esc(e.region) + '</td>' + cell(e.connections, String(e.connections)) +
        cell(e.bytesPerSec, fmt(e.bytesPerSec) + '/s') + cell(load, e.capacity > 0 ? pct(load) : 'n/a') + cell(e.hitRatio, pct(e.hitRatio)) + '</tr>';
    });
    $('edges').innerHTML = eh;
    var st = $('status');
    st.setAttribute('data-reports', String(f.totals.reports));
    st.textContent = f.totals.reports + ' reports · ' + d.nodes + ' tracker process' + (d.nodes === 1 ? '' : 'es') + ' · ' +
      d.peers + ' peers · updated ' + new Date(f.at).toLocaleTimeString();
  }
  function poll() {
    fetch('dashboard.json', { cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(render, function (err) { $('status').textContent = 'cannot load figures: ' + err.message; })
      .then(function () { setTimeout(poll, every); });
  }
  poll();
})();
</script>
</body>
</html>
`
