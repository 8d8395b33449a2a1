/**
 * @module hub/forward
 * Streams one request to a member and its answer back to the client, both ways without
 * buffering: status, end-to-end headers and the `X-Stream-Error` trailer pass through,
 * hop-by-hop headers do not. Used for passthrough commands and for reads routed to a
 * member that holds the content (with failover before the first byte).
 */
import type { Readable } from 'node:stream'
import type { Context } from 'hono'
import type { MemberClient, MemberResponse } from '../members/client.js'
import { discard } from '../members/client.js'
import { respond } from '../kubo/respond.js'
import { NoMemberAvailableError } from '../errors.js'

/** RFC 9110 hop-by-hop headers, plus ones the forwarder sets itself. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'host', 'content-length', 'expect', 'proxy-connection',
])

/** Request headers worth sending on to a member. */
export function forwardableRequestHeaders (c: Context): Record<string, string> {
  const out: Record<string, string> = {}
  c.req.raw.headers.forEach((value, key) => {
    const k = key.toLowerCase()
    if (HOP_BY_HOP.has(k) || k === 'content-type' || k === 'origin' || k === 'referer' || k === 'authorization') return
    out[k] = value
  })
  return out
}

/** Copy a member's answer to the client as a stream, trailer included. */
export async function pipeResponse (c: Context, res: MemberResponse): Promise<Response> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k.toLowerCase())) continue
    headers[k] = Array.isArray(v) ? v.join(', ') : v
  }
  headers.Trailer = 'X-Stream-Error'
  headers.Vary ??= 'Origin'
  return await respond(c, async (e) => {
    e.start(headers, res.status)
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
  signal: AbortSignal
}

/** Forward to one member; a member that cannot be reached gives a 502 Kubo error. */
export async function forwardTo (c: Context, member: MemberClient, init: ForwardInit): Promise<Response> {
  const res = await member.request(init.command, {
    query: init.query, body: init.body, contentType: init.contentType || undefined, headers: init.headers, signal: init.signal,
  })
  return await pipeResponse(c, res)
}

/**
 * Try members in order until one answers below 500 before its first byte; a member that
 * fails or answers 5xx is skipped. The last failure is what the client sees.
 */
export async function forwardToFirst (c: Context, members: MemberClient[], init: Omit<ForwardInit, 'body'>): Promise<Response> {
  if (members.length === 0) throw new NoMemberAvailableError(init.command)
  const last = members.length - 1
  for (const [i, m] of members.entries()) {
    try {
      const res = await m.request(init.command, { query: init.query, headers: init.headers, signal: init.signal })
      if (res.status < 500 || i === last) return await pipeResponse(c, res)
      await discard(res.body) // this member failed; the next one answers
    } catch (err) {
      init.signal.throwIfAborted()
      if (i === last) throw err
    }
  }
  throw new NoMemberAvailableError(init.command) // not reached: the last member returns or throws
}

