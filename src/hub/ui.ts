/**
 * @module hub/ui
 * The live status page, `GET /supercluster/ui`: the topology as a tree (the hub, then
 * each member with its kind, health, breaker, free space, pins and queue), the store's
 * backlog and the recent errors. No front-end build: one render function, written here,
 * draws the page on the server and is also sent to the browser as the page's only
 * script, which fetches `/supercluster/v1/status` every second and draws again with it.
 * Every value goes through `esc`; a Content-Security-Policy allows only this script and
 * this style (by hash) and requests to the hub itself.
 */
import { createHash } from 'node:crypto'
import type { StatusReport } from './status-report.js'

/** How often the page asks for a new status, ms. */
const REFRESH_MS = 1000

/**
 * The report as HTML, every value escaped. Self-contained (it uses no name from outside
 * its body): its source text is what the browser runs.
 */
export function renderStatus (s: StatusReport, now: number): string {
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
  const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, c => entities[c])
  const size = (v: string | number | undefined): string => {
    if (v === undefined) return '?'
    const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']
    let x = Number(v)
    let u = 0
    while (x >= 1000 && u < units.length - 1) { x /= 1000; u++ }
    return `${x.toFixed(u === 0 ? 0 : 1)} ${units[u]}`
  }
  const duration = (sec: number): string => sec < 120 ? `${Math.round(sec)} s` : sec < 7200 ? `${Math.round(sec / 60)} min` : `${Math.round(sec / 3600)} h`
  const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19)

  const members = s.members.map(m => {
    const state = !m.up ? 'down' : m.breaker === 'half-open' ? 'trial' : 'up'
    const free = m.repoSize !== undefined && m.storageMax !== undefined
      ? `${size(Math.max(0, Number(m.storageMax) - Number(m.repoSize)))} free of ${size(m.storageMax)}`
      : 'free space unknown'
    const pins = Object.entries(m.pins).filter(([, n]) => n > 0).map(([status, n]) => `${esc(status)} ${esc(n)}`).join(', ')
    return `<li class="member ${state}" data-member="${esc(m.name)}" data-state="${state}">
  <span class="dot" aria-hidden="true"></span><b class="name">${esc(m.name)}</b>
  <span class="kind">${esc(m.kind)}</span>
  <span class="state">${state === 'up' ? 'up' : state === 'trial' ? 'on trial' : 'DOWN'}</span>
  <span class="detail">breaker ${esc(m.breaker ?? '?')}${m.acceptsPins === false && m.up ? ' · not taking pins' : ''}</span>
  <span class="detail">${esc(free)}</span>
  <span class="detail">pins: ${pins === '' ? 'none' : pins}</span>
  <span class="detail">queue ${esc(m.queueDepth)}</span>
  ${m.latencyMs !== undefined ? `<span class="detail">probe ${esc(m.latencyMs)} ms</span>` : ''}
  ${m.lastError !== undefined && m.lastError !== '' ? `<div class="error">${esc(m.lastError)}</div>` : ''}
</li>`
  }).join('\n')

  const errors = s.recentErrors.length === 0
    ? '<p class="none">No errors since the hub started.</p>'
    : `<table><thead><tr><th>time (UTC)</th><th>what</th><th>member</th><th>command</th><th>message</th></tr></thead><tbody>
${s.recentErrors.map(e => `<tr><td>${esc(clock(e.at))}</td><td>${esc(e.kind)}</td><td>${esc(e.member ?? '')}</td><td>${esc(e.command ?? '')}</td><td>${esc(e.message)}</td></tr>`).join('\n')}
</tbody></table>`

  const up = s.members.filter(m => m.up).length
  const backlog = s.intents.pending === 0 ? 'no pending work' : `${esc(s.intents.pending)} pending, oldest ${esc(duration(s.intents.oldestAgeSeconds))}`
  return `<section class="tree">
<div class="hub"><b>hub ${esc(s.hub.id)}</b> <span class="detail">${esc(up)} of ${esc(s.members.length)} members up</span>
  <span class="detail">intents: ${backlog}</span>
  <span class="detail">under-replicated pins: ${esc(s.underReplicated ?? '?')}</span>
  <div class="peer">peer ${esc(s.hub.peerId)}</div></div>
<ul class="members">
${members}
</ul>
</section>
<section class="errors"><h2>Recent errors</h2>
${errors}
</section>
<p class="stamp">updated ${esc(clock(now))} UTC</p>`
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d2327; background: #fafafa }
h1 { font-size: 1.3rem; margin: 0 0 1rem }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem }
.hub { padding: .5rem .75rem; background: #fff; border: 1px solid #ccd; border-radius: 6px; display: inline-block }
.peer { color: #667; font-size: 12px }
ul.members { list-style: none; margin: 0 0 0 1rem; padding: 0 0 0 1rem; border-left: 2px solid #ccd }
li.member { position: relative; margin: .5rem 0; padding: .4rem .75rem; background: #fff; border: 1px solid #dde; border-radius: 6px }
li.member::before { content: ''; position: absolute; left: -1rem; top: 1.1rem; width: 1rem; border-top: 2px solid #ccd }
.dot { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .4rem; vertical-align: baseline }
.up .dot { background: #2e8b57 } .trial .dot { background: #d39e00 } .down .dot { background: #c0392b }
.down { border-color: #c0392b } .down .state { color: #c0392b; font-weight: bold }
.kind { color: #556; margin-left: .4rem; font-size: 12px; border: 1px solid #bbc; border-radius: 3px; padding: 0 .3rem }
.state { margin-left: .5rem }
.detail { margin-left: .9rem; color: #445 }
.error { color: #a33; font-size: 12px; margin-top: .2rem }
table { border-collapse: collapse; background: #fff } td, th { border: 1px solid #dde; padding: .2rem .5rem; text-align: left; font-size: 13px }
.none, .stamp { color: #667 }
body[data-live="stale"] .stale { display: block } .stale { display: none; color: #a33; font-weight: bold }
`

const SCRIPT = `
const render = ${renderStatus.toString()};
const root = document.getElementById('status');
async function refresh () {
  try {
    const res = await fetch('v1/status', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    root.innerHTML = render(await res.json(), Date.now());
    document.body.dataset.live = 'ok';
  } catch {
    document.body.dataset.live = 'stale';
  }
  setTimeout(refresh, ${REFRESH_MS});
}
setTimeout(refresh, ${REFRESH_MS});
`

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/** Headers of the page: no caching, and a policy that allows nothing but its own script, style and status requests. */
export const STATUS_PAGE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
}

/** The whole page for a report: drawn now, redrawn by its script every second. */
export function statusPage (report: StatusReport, now = Date.now()): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>supercluster hub ${report.hub.id.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)}</title>
<style>${STYLE}</style>
</head>
<body data-live="ok">
<h1>supercluster status</h1>
<p class="stale">The hub does not answer; showing the last status it gave.</p>
<main id="status">
${renderStatus(report, now)}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`
}
