/**
 * The fidelity diff: every request in fidelity-cases.ts goes, byte for byte the same, to
 * the hub and to a lone reference Kubo daemon, and the two answers are compared the way a
 * Kubo client reads them: status, Content-Type, the headers clients look at, framing
 * (chunked or not), the X-Stream-Error trailer, and the body (NDJSON parsed and compared
 * value by value; anything else byte for byte).
 *
 * Why: the hub claims to be a drop-in Kubo RPC endpoint. The CLI and client suites check
 * what those two clients happen to use; this file checks the wire itself, including the
 * error, method and CSRF paths no client exercises on purpose. It prints one table row per
 * case (`same`, `deliberate: why`, or `DIFF: what`) and fails on every DIFF, listing them
 * all with both answers.
 *
 * What two Kubo daemons may legitimately answer differently is normalised on both sides
 * before comparing: the side's own API origin (`<self>`), peer IDs (`<peer-id>`), TCP ports
 * in multiaddrs, and, per case, repo sizes/paths, swarm peers and pins other test files
 * left behind. The `Server` header is compared by presence only (product name). Where the
 * hub differs by design, the case says so (`deliberate`) and only that aspect is relaxed.
 */
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { beforeAll, describe, expect, it } from 'vitest'
import { composite, eventually } from './helpers.js'
import { buildCases, fresh, type Case, type Ctx, type Json, type Part } from './fidelity-cases.js'

const info = composite()
const SIDES = { hub: info.hub.url, kubo: info.reference.api } as const
type Side = keyof typeof SIDES

// ---------------------------------------------------------------------------------------
// Sending

interface Answer {
  status: number
  headers: Record<string, string>
  body: Buffer
  trailers: Record<string, string>
  /** transport failure (no answer at all) */
  error?: string
}

function multipart (parts: Part[]): { data: Buffer, contentType: string } {
  const boundary = `fidelity${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    // Go CLI style: query-escaped filename, flat parts.
    const name = encodeURIComponent(p.filename)
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.field ?? 'file'}"; filename="${name}"\r\n` +
      `Content-Type: ${p.contentType ?? 'application/octet-stream'}\r\n\r\n`))
    chunks.push(Buffer.from(p.content ?? ''))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { data: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

const flat = (h: Record<string, string | string[] | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v as string]))

async function send (base: string, method: string, path: string, headers: Record<string, string>, body?: { data: string | Buffer, contentType: string }): Promise<Answer> {
  try {
    const res = await request(`${base}${path}`, {
      method: method as 'POST',
      headers: { ...(body !== undefined ? { 'content-type': body.contentType } : {}), ...headers },
      body: body?.data,
      signal: AbortSignal.timeout(80_000), // the hub's own member timeout is 60 s
    })
    const buf = Buffer.from(await res.body.arrayBuffer())
    return { status: res.statusCode, headers: flat(res.headers), body: buf, trailers: flat(res.trailers ?? {}) }
  } catch (err) {
    return { status: 0, headers: {}, body: Buffer.alloc(0), trailers: {}, error: (err as Error).message }
  }
}

interface Sent { req: string, hub: Answer, kubo: Answer }

async function sendBoth (c: Case): Promise<Sent> {
  const path = typeof c.path === 'function' ? c.path() : c.path
  const full = c.root === true ? path : `/api/v0${path}`
  const body = c.multipart !== undefined ? multipart(c.multipart) : c.body
  const method = c.method ?? 'POST'
  const headersFor = (self: string): Record<string, string> => typeof c.headers === 'function' ? c.headers(self) : (c.headers ?? {})
  const [hub, kubo] = await Promise.all((['hub', 'kubo'] as const).map(async s => await send(SIDES[s], method, full, headersFor(SIDES[s]), body)))
  return { req: `${method} ${full}`, hub, kubo }
}

// ---------------------------------------------------------------------------------------
// Normalising and comparing

/** Per-daemon values inside any string: the side's own origin, peer IDs, TCP ports. */
function normString (s: string, side: Side): string {
  const self = SIDES[side]
  return s.split(self).join('<self>').split(self.replace('127.0.0.1', 'localhost')).join('<self>')
    .replace(/\b12D3KooW[1-9A-HJ-NP-Za-km-z]{44}\b/g, '<peer-id>')
    .replace(/\bk51qzi5uqu5[a-z0-9]{40,}\b/g, '<peer-id>') // the same keys as base36 CIDs (key/list)
    .replace(/\/tcp\/\d+/g, '/tcp/<port>')
}

function normJson (v: Json, side: Side): Json {
  if (typeof v === 'string') return normString(v, side)
  if (Array.isArray(v)) return v.map(x => normJson(x, side))
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [normString(k, side), normJson(x, side)]))
  return v
}

const jsonType = (v: Json): string => v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v

function maskFields (v: Json, fields: string[]): Json {
  if (Array.isArray(v)) return v.map(x => maskFields(x, fields))
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fields.includes(k) ? `<${jsonType(x)}>` : maskFields(x, fields)]))
  }
  return v
}

/** NDJSON lines, or undefined when the body is not that. */
function ndjson (a: Answer): Json[] | undefined {
  const ct = a.headers['content-type'] ?? ''
  if (!ct.startsWith('application/json')) return undefined
  try {
    return a.body.toString('utf8').split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as Json)
  } catch {
    return undefined
  }
}

const show = (v: unknown, max = 160): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v)
  return s.length > max ? `${s.slice(0, max)}…` : s
}

function deepDiff (a: Json | undefined, b: Json | undefined, path: string, out: string[]): void {
  if (out.length >= 4) return
  if (jsonType(a as Json) !== jsonType(b as Json) || a === undefined || b === undefined) {
    if (a === undefined && b === undefined) return
    out.push(`${path || '.'}: hub ${a === undefined ? '(absent)' : show(a)} vs kubo ${b === undefined ? '(absent)' : show(b)}`)
    return
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path || '.'}: hub ${a.length} items vs kubo ${b.length} (hub ${show(a, 200)} kubo ${show(b, 200)})`)
    for (let i = 0; i < Math.min(a.length, b.length); i++) deepDiff(a[i], b[i], `${path}[${i}]`, out)
    return
  }
  if (a !== null && typeof a === 'object') {
    const bo = b as { [k: string]: Json }
    for (const k of new Set([...Object.keys(a), ...Object.keys(bo)])) deepDiff((a as { [k: string]: Json })[k], bo[k], `${path}.${k}`, out)
    return
  }
  if (a !== b) out.push(`${path || '.'}: hub ${show(a)} vs kubo ${show(b)}`)
}

/** Headers clients read; any other x-* or access-control-* header is compared too. */
const HEADERS = ['content-type', 'x-chunked-output', 'x-stream-output', 'x-content-length', 'trailer', 'vary', 'allow',
  'x-content-type-options', 'access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers',
  'access-control-expose-headers', 'access-control-allow-credentials', 'access-control-max-age']

const framing = (a: Answer): string => (a.headers['transfer-encoding'] ?? '').includes('chunked') ? 'chunked' : a.headers['content-length'] !== undefined ? 'content-length' : 'none'

interface Diff { aspect: 'status' | 'header' | 'framing' | 'trailer' | 'body' | 'note', name?: string, text: string }

/** List-valued headers (RFC 9110 #list): compared as sets of tokens; a repeated token is a note. */
const LIST_HEADERS = new Set(['vary', 'allow', 'trailer', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-allow-methods'])
const tokens = (v: string): string => [...new Set(v.split(',').map(t => t.trim().toLowerCase()).filter(t => t !== ''))].sort().join(', ')

interface Mode { relax: boolean }

function compare (c: Case, s: Sent, ctx: Ctx, mode: Mode): Diff[] {
  const { hub, kubo } = s
  const d: Diff[] = []
  const relaxed = mode.relax ? c.deliberate : undefined
  if (hub.error !== undefined || kubo.error !== undefined) {
    if (hub.error !== kubo.error) d.push({ aspect: 'status', text: `no answer: hub ${hub.error ?? 'answered'} vs kubo ${kubo.error ?? 'answered'}` })
    return d
  }
  if (relaxed?.whole === true) return d
  if (hub.status !== kubo.status) d.push({ aspect: 'status', text: `status ${hub.status} vs ${kubo.status}` })
  if (framing(hub) !== framing(kubo)) d.push({ aspect: 'framing', text: `framing ${framing(hub)} vs ${framing(kubo)}` })

  const names = new Set(HEADERS)
  for (const k of [...Object.keys(hub.headers), ...Object.keys(kubo.headers)]) if (k.startsWith('x-') || k.startsWith('access-control-')) names.add(k)
  for (const k of names) {
    if (relaxed?.headers?.includes(k) === true) continue
    const hv = hub.headers[k] === undefined ? undefined : normString(hub.headers[k], 'hub')
    const kv = kubo.headers[k] === undefined ? undefined : normString(kubo.headers[k], 'kubo')
    if (hv === kv) continue
    if (hv !== undefined && kv !== undefined && LIST_HEADERS.has(k) && tokens(hv) === tokens(kv)) {
      d.push({ aspect: 'note', name: k, text: `${k} ${show(hv)} (same tokens as kubo's ${show(kv)})` })
      continue
    }
    d.push({ aspect: 'header', name: k, text: `${k}: hub ${hv === undefined ? '(none)' : show(hv)} vs kubo ${kv === undefined ? '(none)' : show(kv)}` })
  }
  if ((hub.headers.server === undefined) !== (kubo.headers.server === undefined)) {
    d.push({ aspect: 'header', name: 'server', text: `server: hub ${hub.headers.server ?? '(none)'} vs kubo ${kubo.headers.server ?? '(none)'}` })
  }

  const ht = hub.trailers['x-stream-error']
  const kt = kubo.trailers['x-stream-error']
  const htn = ht === undefined || ht === '' ? undefined : normString(ht, 'hub')
  const ktn = kt === undefined || kt === '' ? undefined : normString(kt, 'kubo')
  if (htn !== ktn) d.push({ aspect: 'trailer', text: `X-Stream-Error trailer: hub ${show(htn ?? '(none)')} vs kubo ${show(ktn ?? '(none)')}` })

  // Body
  const hl = ndjson(hub)
  const kl = ndjson(kubo)
  if (hl !== undefined && kl !== undefined) {
    const endsNl = (a: Answer): boolean => a.body.length === 0 || a.body.toString('utf8').endsWith('\n')
    if (endsNl(hub) !== endsNl(kubo)) d.push({ aspect: 'framing', text: `final newline: hub ${endsNl(hub)} vs kubo ${endsNl(kubo)}` })
    let h = hl.map(v => normJson(v, 'hub'))
    let k = kl.map(v => normJson(v, 'kubo'))
    if (c.normalize !== undefined) { h = c.normalize(h, ctx); k = c.normalize(k, ctx) }
    if (relaxed?.kubo !== undefined) k = relaxed.kubo(k)
    if (relaxed?.mask !== undefined) { h = h.map(v => maskFields(v, relaxed.mask!)); k = k.map(v => maskFields(v, relaxed.mask!)) }
    const out: string[] = []
    if (h.length !== k.length) out.push(`${h.length} JSON lines vs ${k.length}`)
    for (let i = 0; i < Math.max(h.length, k.length) && out.length < 4; i++) deepDiff(h[i], k[i], `line${i}`, out)
    for (const t of out) d.push({ aspect: 'body', text: `body ${t}` })
  } else if (hl !== undefined || kl !== undefined) {
    d.push({ aspect: 'body', text: `body: hub ${hl !== undefined ? 'NDJSON' : 'not NDJSON'} vs kubo ${kl !== undefined ? 'NDJSON' : 'not NDJSON'} (hub ${show(hub.body.toString('utf8'), 120)} kubo ${show(kubo.body.toString('utf8'), 120)})` })
  } else if (c.normalizeBytes !== undefined) {
    const hb = c.normalizeBytes(hub.body)
    const kb = c.normalizeBytes(kubo.body)
    if (hb !== kb) d.push({ aspect: 'body', text: `body differs: hub ${show(hb, 200)} vs kubo ${show(kb, 200)}` })
  } else if (!hub.body.equals(kubo.body)) {
    const ht2 = normString(hub.body.toString('utf8'), 'hub')
    const kt2 = normString(kubo.body.toString('utf8'), 'kubo')
    if (ht2 !== kt2) {
      let i = 0
      while (i < hub.body.length && i < kubo.body.length && hub.body[i] === kubo.body[i]) i++
      d.push({ aspect: 'body', text: `body bytes differ (hub ${hub.body.length} B, kubo ${kubo.body.length} B, first difference at ${i}): hub ${show(ht2, 120)} vs kubo ${show(kt2, 120)}` })
    }
  }
  return d
}

type Verdict = ({ kind: 'same' } | { kind: 'deliberate', why: string } | { kind: 'diff', diffs: Diff[] }) & { notes: string[] }

function verdict (c: Case, s: Sent, ctx: Ctx): Verdict {
  const split = (ds: Diff[]): [Diff[], string[]] => [ds.filter(d => d.aspect !== 'note'), ds.filter(d => d.aspect === 'note').map(d => d.text)]
  const [strict, notes] = split(compare(c, s, ctx, { relax: false }))
  if (strict.length === 0) return { kind: 'same', notes }
  if (c.deliberate === undefined) return { kind: 'diff', diffs: strict, notes }
  const [relaxed] = split(compare(c, s, ctx, { relax: true }))
  return relaxed.length === 0 ? { kind: 'deliberate', why: c.deliberate.why, notes } : { kind: 'diff', diffs: relaxed, notes }
}

/** CIDs a case's answer introduces (add, block/put, dag/put): listings are narrowed to these. */
function learn (c: Case, s: Sent, ctx: Ctx): void {
  const path = typeof c.path === 'function' ? c.path() : c.path
  if (!/^\/(add|block\/put|dag\/put)/.test(path)) return
  for (const line of ndjson(s.kubo) ?? []) {
    if (line === null || typeof line !== 'object' || Array.isArray(line)) continue
    const cid = typeof line.Hash === 'string' ? line.Hash : typeof line.Key === 'string' ? line.Key : (line.Cid as { '/'?: string } | undefined)?.['/']
    if (typeof cid === 'string') {
      ctx.known.add(cid)
      ctx.learned[path.slice(1)] = cid
    }
  }
}

// ---------------------------------------------------------------------------------------
// Report

function labeller (ctx: Ctx): (s: string) => string {
  const labels = new Map<string, string>([[ctx.r1, '<r1>'], [ctx.dir, '<dir>'], [ctx.dirA, '<dir/a>'], [ctx.dirSub, '<dir/sub>'], [ctx.dirB, '<dir/sub/b>'], [ctx.u1, '<u1>']])
  for (const [i, cid] of Object.entries(ctx.p)) labels.set(cid, `<p${i}>`)
  return (s: string) => {
    let out = s
    for (const [cid, label] of labels) out = out.split(cid).join(label)
    out = out.split(ctx.token).join('<tok>').replace(/\b(Qm[1-9A-HJ-NP-Za-km-z]{44}|baf[a-z2-7]{50,})\b/g, '<cid>')
    return out
  }
}

function pad (s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n)
}

function describeAnswer (a: Answer): string {
  if (a.error !== undefined) return `    (no answer: ${a.error})`
  const hs = Object.entries(a.headers).filter(([k]) => HEADERS.includes(k) || k.startsWith('x-') || k === 'server' || k === 'transfer-encoding' || k === 'content-length')
    .map(([k, v]) => `${k}: ${v}`).join(' | ')
  const text = a.body.toString('utf8')
  const body = /[\x00-\x08\x0e-\x1f]/.test(text) ? `<${a.body.length} binary bytes>` : show(text, 400)
  const tr = Object.keys(a.trailers).length > 0 ? `\n    trailers: ${JSON.stringify(a.trailers)}` : ''
  return `    ${a.status}  ${hs}\n    body: ${body}${tr}`
}

// ---------------------------------------------------------------------------------------
// Setup: the same content on both sides, CIDs checked equal

async function addBoth (query: string, parts: Part[]): Promise<Array<{ Name: string, Hash: string }>> {
  const body = multipart(parts)
  const [hub, kubo] = await Promise.all([send(SIDES.hub, 'POST', `/api/v0/add${query}`, {}, body), send(SIDES.kubo, 'POST', `/api/v0/add${query}`, {}, body)])
  const lines = (a: Answer): string => a.body.toString('utf8')
  if (hub.status !== 200 || kubo.status !== 200 || lines(hub) !== lines(kubo)) {
    throw new Error(`fidelity setup: add${query} differs or failed:\n  hub ${hub.status} ${lines(hub)} ${JSON.stringify(hub.trailers)} ${hub.error ?? ''}\n  kubo ${kubo.status} ${lines(kubo)}`)
  }
  return lines(kubo).split('\n').filter(Boolean).map(l => JSON.parse(l) as { Name: string, Hash: string })
}

describe('fidelity diff: hub vs reference Kubo, request by request', () => {
  const ctx: Ctx = { token: '', r1: '', dir: '', dirA: '', dirSub: '', dirB: '', u1: '', p: {}, known: new Set(), learned: {} }

  beforeAll(async () => {
    // Every member up before the first add (the hub probes them after it starts).
    await eventually('hub members up', async () => {
      const res = await request(`${SIDES.hub}/supercluster/v1/status`)
      const st = await res.body.json() as { members: Array<{ up: boolean }> }
      return st.members.length > 0 && st.members.every(m => m.up) ? true : undefined
    })
    ctx.token = `fid${randomBytes(5).toString('hex')}`
    const byName = (ev: Array<{ Name: string, Hash: string }>, name: string): string => ev.find(e => e.Name === name)!.Hash
    ctx.r1 = byName(await addBoth('', [{ filename: 'r1.txt', content: fresh('r1') }]), 'r1.txt')
    const dir = await addBoth('', [
      { filename: 'fdir', contentType: 'application/x-directory' },
      { filename: 'fdir/a.txt', content: fresh('fdir a') },
      { filename: 'fdir/sub', contentType: 'application/x-directory' },
      { filename: 'fdir/sub/b.txt', content: fresh('fdir b') },
    ])
    ctx.dir = byName(dir, 'fdir')
    ctx.dirA = byName(dir, 'fdir/a.txt')
    ctx.dirSub = byName(dir, 'fdir/sub')
    ctx.dirB = byName(dir, 'fdir/sub/b.txt')
    const names = ['u1', ...Array.from({ length: 11 }, (_, i) => `p${i + 1}`)]
    const loose = await addBoth('?pin=false', names.map(n => ({ filename: `${n}.txt`, content: fresh(n) })))
    ctx.u1 = byName(loose, 'u1.txt')
    for (let i = 1; i <= 11; i++) ctx.p[i] = byName(loose, `p${i}.txt`)
    for (const e of [...dir, ...loose]) ctx.known.add(e.Hash)
    ctx.known.add(ctx.r1)
  })

  /**
   * Deviations the suite found that are not fixed yet. They are NOT deliberate: each is
   * printed as `OPEN:` in the table and listed in issue #3's closing note; a case that
   * starts to match is reported so it can leave this list, and any other DIFF fails.
   */
  const OPEN: Record<string, string> = {}

  it('every case answers as Kubo does (or differs deliberately, or is a known open deviation)', async () => {
    const cases = buildCases(ctx)
    expect(cases.length).toBeGreaterThanOrEqual(45)
    const label = labeller(ctx)
    const rows: string[] = []
    const details: string[] = []
    const failures: string[] = []
    let n = 0
    for (const c of cases) {
      n++
      const s = await sendBoth(c)
      learn(c, s, ctx)
      const v = verdict(c, s, ctx)
      const note = v.notes.length > 0 ? ` (note: ${v.notes.join('; ')})` : ''
      const open = OPEN[c.name]
      const diffText = v.kind === 'diff' ? `${open !== undefined ? `OPEN (${open})` : 'DIFF'}: ${v.diffs.map(d => d.text).join('; ')}` : ''
      const text = (v.kind === 'same' ? (open !== undefined ? 'same (listed as open: take it off the list)' : 'same') : v.kind === 'deliberate' ? `deliberate: ${v.why}` : diffText) + note
      rows.push(`${String(n).padStart(3)} ${pad(c.name, 52)} ${pad(label(s.req), 64)} ${String(s.hub.status).padStart(3)} ${String(s.kubo.status).padStart(3)}  ${label(text)}`)
      if (v.kind === 'diff' && open !== undefined) {
        details.push(`#${n} ${c.name} (open)\n  ${v.diffs.map(d => label(d.text)).join('\n  ')}`)
      } else if (v.kind === 'diff') {
        failures.push(`#${n} ${c.name}: ${label(text)}`)
        details.push(`#${n} ${c.name}\n  ${label(s.req)}\n  ${v.diffs.map(d => label(d.text)).join('\n  ')}\n  hub:\n${label(describeAnswer(s.hub))}\n  kubo:\n${label(describeAnswer(s.kubo))}`)
      }
    }
    const header = `${'#'.padStart(3)} ${pad('case', 52)} ${pad('request', 64)} hub kubo verdict`
    console.log(`fidelity diff (${cases.length} cases; <pN>, <r1>, <dir>… are this run's CIDs, <tok> its token)\n${header}\n${rows.join('\n')}`)
    if (details.length > 0) console.log(`\nDIFF details (hub vs kubo):\n\n${details.join('\n\n')}`)
    expect(failures, `${failures.length} case(s) differ from Kubo:\n${failures.join('\n')}`).toEqual([])
  }, 900_000)
})
