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
import { HubError, SERVER_HEADER, TransportError, errorMessage } from '../errors.js'

export { SERVER_HEADER }
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
  // Looked for first: JSON.stringify throwing on a bigint, then caught, costs more than
  // the whole answer (repo/stat carries them on every call).
  if (!hasBigInt(value)) {
    try {
      return JSON.stringify(value)
    } catch (err) {
      if (!(err instanceof TypeError)) throw err // a bigint behind a toJSON: the slow way below
    }
  }
  const text = JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? `${BIG}${v.toString()}` : v)
  return text.replace(BIG_RE, '$1')
}

function hasBigInt (v: unknown): boolean {
  if (typeof v === 'bigint') return true
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return false
  if (Array.isArray(v)) return v.some(hasBigInt)
  for (const k in v) if (hasBigInt((v as Record<string, unknown>)[k])) return true
  return false
}

/**
 * The boundary: any thrown value to Kubo's error response. `command: false` is for
 * refusals before any command (authentication, rate limits): the same JSON, but not
 * chunked and without the `Trailer` declaration, which Node refuses on a HEAD answer.
 */
export function errorResponse (err: unknown, options: { command?: boolean } = {}): Response {
  if (err instanceof TransportError) {
    const text = `${err.message}\n`
    return new Response(text, {
      status: err.status,
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
        Vary: 'Origin',
        // Go's server counts a short answer even for HEAD, which sends no body.
        'Content-Length': String(Buffer.byteLength(text)),
        ...err.headers,
      },
    })
  }
  const status = err instanceof HubError ? err.status : 500
  const code = err instanceof HubError ? err.kuboCode : 0
  const body = new TextEncoder().encode(kuboJson({ Message: errorMessage(err), Code: code, Type: 'error' }) + '\n')
  if (options.command === false) {
    const { Trailer: _, ...headers } = commandHeaders('application/json')
    return new Response(body, { status, headers: { ...headers, ...(err instanceof HubError ? err.headers : {}) } })
  }
  // A stream, not a string: the adapter would add Content-Length, and Node refuses the
  // declared `Trailer` on a response that is not chunked. Kubo's errors are chunked too.
  const stream = new ReadableStream<Uint8Array>({ start (c) { c.enqueue(body); c.close() } })
  const headers = err instanceof HubError ? { ...commandHeaders('application/json'), ...err.headers } : commandHeaders('application/json')
  return new Response(stream, { status, headers })
}

/** Writes one response, streaming, with a trailer for errors after the status line. */
export interface Emitter {
  start (headers: Record<string, string>, status?: number): void
  /**
   * Takes a chunk; returns a promise to wait on when the client is not keeping up
   * (backpressure), undefined when the next chunk may follow at once.
   */
  write (chunk: Uint8Array | string): Promise<void> | undefined
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
  // The latest chunk is held back until the next one or the next turn of the event loop,
  // so a body that ends right after it leaves with `end(chunk)`: head, chunk and the last
  // chunk marker in one send, instead of one writev per piece (costly on loopback here).
  let held: Uint8Array | string | undefined
  let flushScheduled = false
  const flushHeld = (): boolean => {
    if (held === undefined || out.destroyed) return true
    const chunk = held
    held = undefined
    return out.write(chunk)
  }
  const emitter: Emitter = {
    setTrailers (t) { trailers = t },
    start (headers, status = 200) {
      out.writeHead(status, headers)
      started = true
    },
    write (chunk) {
      if (out.destroyed) return Promise.reject(new Error('client closed the connection'))
      const ok = flushHeld()
      held = chunk
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(() => { flushScheduled = false; flushHeld() })
      }
      if (ok) return undefined
      return new Promise<void>((resolve, reject) => {
        const done = (): void => { out.off('drain', done); out.off('close', closed); resolve() }
        const closed = (): void => { out.off('drain', done); out.off('close', closed); reject(new Error('client closed the connection')) }
        out.on('drain', done)
        out.on('close', closed)
      })
    },
  }
  const finish = (): void => {
    if (out.destroyed) return
    if (trailers !== undefined && Object.keys(trailers).length > 0 && !out.hasHeader('content-length')) out.addTrailers(trailers)
    const last = held
    held = undefined
    if (last !== undefined) out.end(last)
    else out.end()
  }
  try {
    await produce(emitter)
    if (!started) emitter.start({})
    finish()
  } catch (err) {
    if (!started) throw err
    onLateError?.(err)
    trailers = { 'X-Stream-Error': oneLine(errorMessage(err)) }
    finish()
  }
}

async function produceToWeb (produce: Producer, onLateError?: (err: unknown) => void): Promise<Response> {
  return await new Promise<Response>((resolve, reject) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const stream = new ReadableStream<Uint8Array>({ start (ctl) { controller = ctl } })
    const enc = new TextEncoder()
    let started = false
    const emitter: Emitter = {
      setTrailers () {},
      start (headers, status = 200) {
        started = true
        resolve(new Response(stream, { status, headers }))
      },
      write (chunk) {
        controller.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk)
        return undefined
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
  const out = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (out !== undefined) {
    // One write for head and body: `end(data)` after `writeHead` is still chunked (so the
    // declared trailer is valid) but leaves in a single send.
    out.writeHead(200, { ...commandHeaders('application/json'), ...extraHeaders })
    out.end(line)
    return RESPONSE_ALREADY_SENT
  }
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
  async function * lines (): AsyncGenerator<string> {
    for await (const v of values) yield kuboJson(v) + '\n'
  }
  return await sendStream(c, lines(), { ...commandHeaders('application/json'), 'X-Chunked-Output': '1', ...extraHeaders }, onLateError)
}

/** Raw byte stream (`cat`): text/plain, X-Stream-Output, optional X-Content-Length. */
export async function sendBytes (c: Context, chunks: AsyncIterable<Uint8Array>, opts: { contentLength?: bigint | number, contentType?: string, headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...commandHeaders(opts.contentType ?? 'text/plain'), 'X-Stream-Output': '1', ...opts.headers }
  if (opts.contentLength !== undefined) headers['X-Content-Length'] = opts.contentLength.toString()
  return await sendStream(c, chunks, headers)
}

/** Pull the first chunk, then send the head and stream the rest; the source is closed on any failure. */
async function sendStream (c: Context, chunks: AsyncIterable<Uint8Array | string>, headers: Record<string, string>, onLateError?: (err: unknown) => void): Promise<Response> {
  return await respond(c, async (e) => {
    const it = chunks[Symbol.asyncIterator]()
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
  }, onLateError)
}

function oneLine (s: string): string {
  return s.replace(/[\r\n]+/g, ' ')
}
