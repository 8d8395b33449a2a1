/**
 * @module hub/forward
 * Streams one request to a member and its answer back to the client, both ways without
 * buffering: status, end-to-end headers and the `X-Stream-Error` trailer pass through,
 * hop-by-hop headers do not. Used for passthrough commands and for reads routed to a
 * member that holds the content (with failover before the first byte).
 */
import { Readable } from 'node:stream'
import type { Context } from 'hono'
import type { MemberClient, MemberResponse } from '../members/client.js'
import { VIA_HEADER, readText } from '../members/client.js'
import { commandHeaders, respond } from '../kubo/respond.js'
import { NoMemberAvailableError } from '../errors.js'
import { REQUEST_ID_HEADER, type RequestScope } from '../request-context.js'

/** RFC 9110 hop-by-hop headers, plus ones the forwarder sets itself. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'host', 'content-length', 'expect', 'proxy-connection',
])

/** A member's answer meaning it does not have the blocks (not "no link named", which is about the path). */
const LACKS_CONTENT = /could not find|block was not found|failed to fetch|not found locally/i

/** Request headers worth sending on to a member. */
export function forwardableRequestHeaders (c: Context): Record<string, string> {
  const out: Record<string, string> = {}
  c.req.raw.headers.forEach((value, key) => {
    const k = key.toLowerCase()
    // The via chain is the member client's to write: the inbound one plus this hub.
    if (HOP_BY_HOP.has(k) || k === 'content-type' || k === 'origin' || k === 'referer' || k === 'authorization' || k === VIA_HEADER) return
    out[k] = value
  })
  return out
}

/** The client's headers for a member's answer: end-to-end ones as they are, the CORS ones the hub's. */
function answerHeaders (from: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(from)) {
    const key = k.toLowerCase()
    if (v === undefined || (HOP_BY_HOP.has(key) && key !== 'content-length')) continue
    if (key === REQUEST_ID_HEADER) continue // a hub member's echo of ours: the hub answers for its own request id
    // A header sent twice (the cluster proxy repeats Vary) is joined without repeats.
    headers[key] = Array.isArray(v) ? [...new Set(v.flatMap(x => x.split(/,\s*/)))].join(', ') : v
  }
  // The trailer is declared only where the member declared it (Kubo does on every command
  // answer, not on its router's 404); a body of known length keeps its length.
  if (from.trailer !== undefined) {
    headers.trailer = 'X-Stream-Error'
    delete headers['content-length']
    // The CORS headers of a command answer are the hub's own (the cluster proxy adds its
    // own Vary entries and drops Access-Control-Allow-Headers).
    const own = commandHeaders('')
    headers.vary = own.Vary
    headers['access-control-allow-headers'] = own['Access-Control-Allow-Headers']
    headers['access-control-expose-headers'] = own['Access-Control-Expose-Headers']
  }
  headers.vary ??= 'Origin'
  return headers
}

/** Copy a member's answer to the client as a stream, trailer included. */
async function pipeResponse (c: Context, res: MemberResponse): Promise<Response> {
  return await respond(c, async (e) => {
    e.start(answerHeaders(res.headers), res.status)
    try {
      for await (const chunk of res.body) await e.write(chunk as Buffer)
    } catch (err) {
      res.body.destroy()
      throw err
    }
    const t = res.trailers['x-stream-error']
    if (t !== undefined && t !== '') e.setTrailers({ 'X-Stream-Error': t })
  })
}

export interface ForwardInit {
  command: string
  query: URLSearchParams
  body?: Readable
  contentType?: string
  headers?: Record<string, string>
  scope: RequestScope
  signal: AbortSignal
  /** The member metrics' command label when `command` is a client's path (see MemberRequest). */
  metricLabel?: string
}

/**
 * Forward to one member, its answer streamed to the client as it arrives; a member that
 * cannot be reached gives a 502 Kubo error.
 */
export async function forwardTo (c: Context, member: MemberClient, init: ForwardInit): Promise<Response> {
  return await respond(c, async (e) => {
    const trailers = await member.stream(init.command, {
      query: init.query, body: init.body, contentType: init.contentType || undefined, headers: init.headers, scope: init.scope, signal: init.signal, metricLabel: init.metricLabel,
    }, {
      start: (status, headers) => { e.start(answerHeaders(headers), status) },
      write: (chunk) => e.write(chunk),
    })
    const t = trailers['x-stream-error']
    if (t !== undefined && t !== '') e.setTrailers({ 'X-Stream-Error': t })
  })
}

/**
 * Try members in order until one answers before its first byte: a member that cannot be
 * reached, answers 502–504, or says it lacks the content is skipped; any other answer,
 * errors included, is the member's and goes to the client, a 508 (a loop below) too. The
 * last failure is what the client sees.
 */
export async function forwardToFirst (c: Context, members: MemberClient[], init: Omit<ForwardInit, 'body'>): Promise<Response> {
  if (members.length === 0) throw new NoMemberAvailableError(init.command)
  const last = members.length - 1
  for (const [i, m] of members.entries()) {
    try {
      const res = await m.request(init.command, { query: init.query, headers: init.headers, scope: init.scope, signal: init.signal })
      if (res.status < 500 || res.status === 508 || i === last) return await pipeResponse(c, res)
      // A member's own error ("this dag node is a directory") is the answer; only a member
      // that is failing or lacks the content makes way for the next one.
      const text = await readText(res.body, m.name, 64 * 1024)
      if (res.status !== 500 || LACKS_CONTENT.test(text)) continue
      return await pipeResponse(c, { ...res, body: Readable.from([Buffer.from(text)]) })
    } catch (err) {
      init.signal.throwIfAborted()
      if (i === last) throw err
    }
  }
  throw new NoMemberAvailableError(init.command) // not reached: the last member returns or throws
}

