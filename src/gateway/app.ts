/**
 * @module gateway/app
 * The public, read-only path gateway (hub.gateway): `GET`/`HEAD /ipfs/<cid>[/path]` and
 * nothing else; no credentials, no write path, no Kubo RPC. Content comes from a member
 * that holds it: the store's holders of a pinned root first, else the members that say
 * they have the root block offline (`block/stat?offline=true`); a member that lacks the
 * blocks makes way for the next. Unless `fetch_from_network` is set, every member call
 * carries `offline=true`, so content no member holds is a 404, never a network fetch.
 * Files come from the member's `cat` (a second, ranged `cat` for a `Range`), directories
 * from `ls` (their `index.html` if they have one). Errors are plain text, one line.
 */
import { Readable } from 'node:stream'
import { Hono, type Context } from 'hono'
import { anySignal } from 'any-signal'
import { CommandError, HubError, InvalidCidError, TransportError, errorMessage } from '../errors.js'
import { discard, readText, type MemberClient, type MemberResponse } from '../members/client.js'
import { rank } from '../placement/placement.js'
import type { GatewaySpec } from '../topology/index.js'
import type { HubComponents } from '../hub/components.js'
import { parseIpfsPath } from '../hub/cid.js'
import { listingHtml, noneMatch, parseRange, sniffType, typeByName } from './http.js'
import { BACKGROUND } from '../request-context.js'

/** A year, as IPFS gateways answer for immutable `/ipfs/` content. */
const IMMUTABLE = 'public, max-age=29030400, immutable'
const LACKS_CONTENT = /could not find|block was not found|failed to fetch|not found locally|context deadline exceeded/i
const NO_LINK = /no link named|not found in directory|file does not exist/i
const IS_DIRECTORY = /is a directory/i

type GatewayComponents = Pick<HubComponents, 'store' | 'members' | 'monitor' | 'topology' | 'shutdown' | 'log'>

/** The gateway's Hono app. */
export function createGatewayApp (h: GatewayComponents, spec: GatewaySpec): Hono {
  const app = new Hono()
  app.onError((err) => plain(err instanceof HubError ? err.status : 500, errorMessage(err)))
  app.notFound(() => plain(404, '404 page not found'))
  // GET routes answer HEAD as well.
  app.get('/ipfs/*', async (c) => {
    const signal = anySignal([c.req.raw.signal, h.shutdown])
    try {
      return await serve(c, h, spec, signal)
    } finally {
      signal.clear()
    }
  })
  app.all('/ipfs/*', () => plain(405, '405 - Method Not Allowed', { Allow: 'GET, HEAD' }))
  return app
}

function plain (status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers } })
}

async function serve (c: Context, h: GatewayComponents, spec: GatewaySpec, signal: AbortSignal): Promise<Response> {
  const pathname = new URL(c.req.url).pathname
  let segments: string[]
  try {
    segments = pathname.split('/').slice(2).map(decodeURIComponent)
  } catch {
    throw new TransportError(400, 'invalid URL escape in path')
  }
  const [head = '', ...rest] = segments
  let root: string
  try {
    root = parseIpfsPath(`/ipfs/${head}`).root
  } catch (err) {
    throw new TransportError(400, err instanceof InvalidCidError ? err.message : `invalid path "${pathname}"`)
  }
  const sub = rest.filter(s => s !== '').join('/')
  const ipfsPath = sub === '' ? `/ipfs/${root}` : `/ipfs/${root}/${sub}`
  const base = { 'Cache-Control': IMMUTABLE, 'X-Ipfs-Path': ipfsPath }
  // Content-addressed: a client that has the root's bytes has these bytes.
  if (sub === '' && noneMatch(c.req.header('if-none-match'), `"${root}"`)) {
    return new Response(null, { status: 304, headers: { ...base, ETag: `"${root}"` } })
  }

  const query: Record<string, boolean> = spec.fetchFromNetwork ? {} : { offline: true }
  let failures = 0
  for await (const m of candidates(h, root, spec, signal)) {
    let etag = `"${root}"`
    if (sub !== '') {
      const resolved = await resolve(m, ipfsPath, query, signal)
      if (resolved.kind === 'missing') throw new TransportError(404, `${ipfsPath}: ${resolved.message}`)
      if (resolved.kind === 'skip') { failures++; continue }
      etag = `"${resolved.cid}"`
      if (noneMatch(c.req.header('if-none-match'), etag)) return new Response(null, { status: 304, headers: { ...base, ETag: etag } })
    }
    const res = await m.request('cat', { args: [ipfsPath], query, scope: BACKGROUND, signal })
    if (res.status === 200) return await sendFile(c, m, res, { ipfsPath, query, signal, headers: { ...base, ETag: etag } })
    const text = await readText(res.body, m.name, 64 * 1024)
    if (IS_DIRECTORY.test(text)) return await sendDirectory(c, m, { pathname, ipfsPath, query, signal, headers: { ...base, ETag: etag } })
    if (NO_LINK.test(text)) throw new TransportError(404, `${ipfsPath}: ${m.answerError(res, text).message}`)
    if (!LACKS_CONTENT.test(text)) h.log.warn({ member: m.name, status: res.status, err: m.answerError(res, text).message }, 'gateway: member failed to cat')
    failures++
  }
  throw new TransportError(404, failures === 0
    ? `${ipfsPath}: no member holds this content`
    : `${ipfsPath}: no member could serve this content`)
}

/**
 * Members to ask, in order: the store's holders of `root` that are up, then (lazily) the
 * other up members that have the root block, or with fetch_from_network all of them.
 */
async function * candidates (h: GatewayComponents, root: string, spec: GatewaySpec, signal: AbortSignal): AsyncGenerator<MemberClient> {
  const up = (n: string): boolean => h.members.has(n) && h.monitor.isUp(n)
  const holders = (await h.store.holders(root)).filter(up)
  for (const n of holders) yield h.members.get(n)!
  const others = rank(root, h.topology.members.filter(m => up(m.name) && !holders.includes(m.name))).map(n => h.members.get(n)!)
  if (spec.fetchFromNetwork) { yield * others; return }
  const probeMs = h.topology.defaults.health.timeoutMs
  const having = await Promise.all(others.map(async m => {
    try {
      await m.json('block/stat', { args: [root], query: { offline: true }, scope: BACKGROUND, signal, timeoutMs: probeMs })
      return m
    } catch {
      signal.throwIfAborted()
      return undefined
    }
  }))
  for (const m of having) if (m !== undefined) yield m
}

type Resolved = { kind: 'ok', cid: string } | { kind: 'missing', message: string } | { kind: 'skip' }

/** The CID a sub-path names, on one member. */
async function resolve (m: MemberClient, ipfsPath: string, query: Record<string, boolean>, signal: AbortSignal): Promise<Resolved> {
  try {
    const r = await m.json<{ Path?: string }>('resolve', { args: [ipfsPath], query, scope: BACKGROUND, signal })
    return typeof r.Path === 'string' ? { kind: 'ok', cid: parseIpfsPath(r.Path).root } : { kind: 'skip' }
  } catch (err) {
    signal.throwIfAborted()
    const message = errorMessage(err)
    if (NO_LINK.test(message)) return { kind: 'missing', message }
    return { kind: 'skip' }
  }
}

interface FileInit { ipfsPath: string, query: Record<string, boolean>, signal: AbortSignal, headers: Record<string, string> }

/** A file: its type, length and ETag; the range asked for, or all of it. */
async function sendFile (c: Context, m: MemberClient, res: MemberResponse, init: FileInit): Promise<Response> {
  const declared = res.headers['x-content-length']
  const size = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : undefined
  const it = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  const first = await it.next()
  const head = first.done === true ? new Uint8Array() : first.value
  const name = init.ipfsPath.split('/').pop() ?? ''
  const headers: Record<string, string> = {
    ...init.headers,
    'Content-Type': typeByName(name) ?? sniffType(head),
    'X-Content-Type-Options': 'nosniff',
    'Accept-Ranges': size === undefined ? 'none' : 'bytes',
  }
  const ifRange = c.req.header('if-range')
  const range = size === undefined || (ifRange !== undefined && ifRange !== init.headers.ETag) ? { kind: 'full' as const } : parseRange(c.req.header('range'), size)
  const rest = async function * (): AsyncGenerator<Uint8Array> {
    if (first.done !== true) yield first.value
    for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value
  }
  if (c.req.method === 'HEAD' || range.kind !== 'full') {
    res.body.destroy()
    await discard(res.body)
  }
  if (range.kind === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { ...headers, 'Content-Range': `bytes */${size ?? '*'}` } })
  }
  if (range.kind === 'partial') {
    const length = range.end - range.start + 1
    const part = c.req.method === 'HEAD' ? undefined : await m.request('cat', { args: [init.ipfsPath], query: { ...init.query, offset: range.start, length }, scope: BACKGROUND, signal: init.signal })
    if (part !== undefined && part.status !== 200) {
      throw new CommandError(`member ${m.name}: ${m.answerError(part, await readText(part.body, m.name, 64 * 1024)).message}`)
    }
    return new Response(part === undefined ? null : stream(part.body), {
      status: 206,
      headers: { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${size ?? '*'}`, 'Content-Length': String(length) },
    })
  }
  if (size !== undefined) headers['Content-Length'] = String(size)
  return new Response(c.req.method === 'HEAD' ? null : stream(Readable.from(rest())), { status: 200, headers })
}

function stream (body: Readable): ReadableStream<Uint8Array> {
  return Readable.toWeb(body) as ReadableStream<Uint8Array>
}

interface Link { Name: string, Hash: string, Size: number, Type: number }

/** A directory: redirect to the trailing-slash URL, then its index.html or a listing. */
async function sendDirectory (c: Context, m: MemberClient, init: FileInit & { pathname: string }): Promise<Response> {
  if (!init.pathname.endsWith('/')) {
    const target = new URL(c.req.url)
    target.pathname += '/'
    return new Response(null, { status: 301, headers: { ...init.headers, Location: target.pathname + target.search } })
  }
  const answer = await m.json<{ Objects?: Array<{ Links?: Link[] }> }>('ls', { args: [init.ipfsPath], query: { ...init.query, 'resolve-type': true, size: true }, scope: BACKGROUND, signal: init.signal })
  const links = answer.Objects?.[0]?.Links ?? []
  if (links.some(l => l.Name === 'index.html' && l.Type !== 1)) {
    const indexPath = `${init.ipfsPath}/index.html`
    const res = await m.request('cat', { args: [indexPath], query: init.query, scope: BACKGROUND, signal: init.signal })
    if (res.status === 200) return await sendFile(c, m, res, { ...init, ipfsPath: indexPath })
    await discard(res.body)
  }
  const html = listingHtml(init.pathname, links.map(l => ({ name: l.Name, cid: l.Hash, size: l.Size, directory: l.Type === 1 })))
  return new Response(c.req.method === 'HEAD' ? null : html, {
    status: 200,
    headers: { ...init.headers, 'Content-Type': 'text/html; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
  })
}
