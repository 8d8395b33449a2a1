/**
 * @module kubo/respond
 * Kubo's three output modes (single value, NDJSON channel, raw stream) and its two error
 * shapes, in one place. Responses are written straight to Node's ServerResponse when the
 * request came through @hono/node-server, because only that path can send the
 * `X-Stream-Error` trailer that carries errors after the 200; under `app.request()`
 * (route tests) the same producers write a web Response instead, without trailers.
 */
import type { ServerResponse } from 'node:http'
import type { Context } from 'hono'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { HubError, TransportError, errorMessage } from '../errors.js'

export const SERVER_HEADER = 'supercluster/0.1.0'
const EXPOSED = 'X-Stream-Output, X-Chunked-Output, X-Content-Length'

/** Headers on every command response (go-ipfs-cmds responseemitter + rs/cors). */
export function commandHeaders (contentType: string): Record<string, string> {
  return {
    'Access-Control-Allow-Headers': EXPOSED,
    'Access-Control-Expose-Headers': EXPOSED,
    'Content-Type': contentType,
    Server: SERVER_HEADER,
    Trailer: 'X-Stream-Error',
    Vary: 'Origin',
  }
}

/** Marker for bigint values; U+2063 is not escaped by JSON.stringify. */
const BIG = '\u2063u64:'
const BIG_RE = /"\u2063u64:(-?\d+)"/g

/** JSON with exact unsigned 64-bit integers: bigint values become bare number literals. */
export function kuboJson (value: unknown): string {
  let big = false
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') {
      big = true
      return `${BIG}${v.toString()}`
    }
    return v
  })
  return big ? text.replace(BIG_RE, '$1') : text
}

/** The boundary: any thrown value to Kubo's error response. */
export function errorResponse (err: unknown): Response {
  if (err instanceof TransportError) {
    return new Response(`${err.message}\n`, {
      status: err.status,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
        Vary: 'Origin',
        ...err.headers,
      },
    })
  }
  const status = err instanceof HubError ? err.status : 500
  const code = err instanceof HubError ? err.kuboCode : 0
  const body = new TextEncoder().encode(kuboJson({ Message: errorMessage(err), Code: code, Type: 'error' }) + '\n')
  // A stream, not a string: the adapter would add Content-Length, and Node refuses the
  // declared `Trailer` on a response that is not chunked. Kubo's errors are chunked too.
  const stream = new ReadableStream<Uint8Array>({ start (c) { c.enqueue(body); c.close() } })
  return new Response(stream, { status, headers: commandHeaders('application/json') })
}

/** Writes one response, streaming, with a trailer for errors after the status line. */
export interface Emitter {
  readonly started: boolean
  start (headers: Record<string, string>, status?: number): void
  /** Resolves once the chunk is accepted (waits for drain: backpressure). */
  write (chunk: Uint8Array | string): Promise<void>
  /** Trailers to send at the end (forwarded from a member); Node only. */
  setTrailers (trailers: Record<string, string>): void
}

type Producer = (emit: Emitter) => Promise<void>

/**
 * Run a producer that writes a response. Errors thrown before `start` propagate (so the
 * boundary answers with a Kubo error); errors after it end the body and, on Node, set the
 * `X-Stream-Error` trailer.
 */
export async function respond (c: Context, produce: Producer, onLateError?: (err: unknown) => void): Promise<Response> {
  const out = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (out !== undefined) {
    await produceToNode(out, produce, onLateError)
    return RESPONSE_ALREADY_SENT
  }
  return await produceToWeb(produce, onLateError)
}

async function produceToNode (out: ServerResponse, produce: Producer, onLateError?: (err: unknown) => void): Promise<void> {
  let started = false
  let trailers: Record<string, string> | undefined
  const emitter: Emitter = {
    get started () { return started },
    setTrailers (t) { trailers = t },
    start (headers, status = 200) {
      out.writeHead(status, headers)
      out.flushHeaders()
      started = true
    },
    async write (chunk) {
      if (out.destroyed) throw new Error('client closed the connection')
      if (!out.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const done = (): void => { out.off('drain', done); out.off('close', closed); resolve() }
          const closed = (): void => { out.off('drain', done); out.off('close', closed); reject(new Error('client closed the connection')) }
          out.on('drain', done)
          out.on('close', closed)
        })
      }
    },
  }
  try {
    await produce(emitter)
    if (!started) emitter.start({})
    if (!out.destroyed) {
      if (trailers !== undefined && Object.keys(trailers).length > 0 && !out.hasHeader('content-length')) out.addTrailers(trailers)
      out.end()
    }
  } catch (err) {
    if (!started) throw err
    onLateError?.(err)
    if (!out.destroyed) {
      out.addTrailers({ 'X-Stream-Error': oneLine(errorMessage(err)) })
      out.end()
    }
  }
}

async function produceToWeb (produce: Producer, onLateError?: (err: unknown) => void): Promise<Response> {
  return await new Promise<Response>((resolve, reject) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const stream = new ReadableStream<Uint8Array>({ start (ctl) { controller = ctl } })
    const enc = new TextEncoder()
    let started = false
    const emitter: Emitter = {
      get started () { return started },
      setTrailers () {},
      start (headers, status = 200) {
        started = true
        resolve(new Response(stream, { status, headers }))
      },
      async write (chunk) {
        controller.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk)
      },
    }
    produce(emitter).then(() => {
      if (!started) emitter.start({})
      controller.close()
    }, (err: unknown) => {
      if (!started) { reject(err); return }
      onLateError?.(err)
      controller.close()
    })
  })
}

/** Single-value output: one compact JSON line. */
export async function sendValue (c: Context, value: unknown, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const line = kuboJson(value) + '\n'
  return await respond(c, async (e) => {
    e.start({ ...commandHeaders('application/json'), ...extraHeaders })
    await e.write(line)
  })
}

/**
 * Channel output: NDJSON, one value per line, flushed as produced. The first value is
 * pulled before the status is sent, so an error before any output is a proper 500.
 */
export async function sendChannel (c: Context, values: AsyncIterable<unknown>, extraHeaders: Record<string, string> = {}, onLateError?: (err: unknown) => void): Promise<Response> {
  return await respond(c, async (e) => {
    const it = values[Symbol.asyncIterator]()
    const headers = { ...commandHeaders('application/json'), 'X-Chunked-Output': '1', ...extraHeaders }
    try {
      let next = await it.next()
      e.start(headers)
      while (next.done !== true) {
        await e.write(kuboJson(next.value) + '\n')
        next = await it.next()
      }
    } finally {
      // Closes the source on any failure (cancels upstream reads).
      await it.return?.()
    }
  }, onLateError)
}

/** Raw byte stream (`cat`): text/plain, X-Stream-Output, optional X-Content-Length. */
export async function sendBytes (c: Context, chunks: AsyncIterable<Uint8Array>, opts: { contentLength?: bigint | number, contentType?: string, headers?: Record<string, string> } = {}): Promise<Response> {
  return await respond(c, async (e) => {
    const it = chunks[Symbol.asyncIterator]()
    const headers: Record<string, string> = { ...commandHeaders(opts.contentType ?? 'text/plain'), 'X-Stream-Output': '1', ...opts.headers }
    if (opts.contentLength !== undefined) headers['X-Content-Length'] = opts.contentLength.toString()
    try {
      let next = await it.next()
      e.start(headers)
      while (next.done !== true) {
        await e.write(next.value)
        next = await it.next()
      }
    } finally {
      await it.return?.()
    }
  })
}

function oneLine (s: string): string {
  return s.replace(/[\r\n]+/g, ' ')
}
