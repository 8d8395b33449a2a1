/**
 * @module members/client
 * One member over the Kubo RPC. A member may have several endpoint URLs (peers of one
 * sub-cluster behind their proxies): a request goes to a healthy endpoint and fails over
 * to the next when it could not be delivered, as long as its body can be sent again. One
 * undici Pool per endpoint, sized by the member's concurrency, with separate connect,
 * headers and body timeouts; an AbortSignal through every call; every response body is
 * either handed to the caller or consumed here.
 */
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { Agent, Pool, errors as undiciErrors } from 'undici'
import type { Dispatcher } from 'undici'
import {
  UpstreamError, UpstreamProtocolError, UpstreamTimeoutError, UpstreamUnreachableError, errorMessage,
} from '../errors.js'
import type { MemberKind, MemberSpec } from '../topology/index.js'
import { REQUEST_ID_HEADER, type RequestScope } from '../request-context.js'

export type QueryInit = URLSearchParams | Record<string, string | number | boolean | undefined | string[]>

export interface MemberRequest {
  /** The request this call is made for (its id and via chain), or BACKGROUND. */
  scope: RequestScope
  args?: string[]
  query?: QueryInit
  body?: Readable | Uint8Array | string
  contentType?: string
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Overrides the member's headers/body timeout for this call. */
  timeoutMs?: number
  /** A health probe: its outcome is the monitor's own, not reported as traffic. */
  probe?: boolean
  /**
   * The command's name in the metrics when it is not one of a known set: a passed-through
   * path is the client's to choose, and a label must not grow without bound.
   */
  metricLabel?: string
  /** Only this one of the member's `urls` (no failover): what one peer's daemon says. */
  endpoint?: string
}

export interface MemberResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The body stream; the caller must consume or destroy it. */
  body: Readable
  /** Filled once the body has been fully read. */
  trailers: Record<string, string>
  endpoint: string
}

export interface MemberClientInit {
  /** The via header for a call made for `scope`, for loop detection in hierarchies. */
  viaHeader?: (scope: RequestScope) => string
  /** Observes each finished call: member, command, outcome, seconds. */
  observe?: (member: string, command: string, outcome: 'ok' | 'error', seconds: number) => void
  /** Told about transport failures and successes, for health. */
  onTransport?: (member: string, ok: boolean, err?: Error) => void
}

/** Where `stream` hands an answer as it arrives. */
export interface AnswerSink {
  /** The member's status and headers, once, before any data. Throwing aborts the call. */
  start (status: number, headers: Record<string, string | string[] | undefined>): void
  /** A chunk of the body; a returned promise holds the next one back until it settles. */
  write (chunk: Buffer): Promise<void> | undefined
}

/** A whole (small) answer, collected. */
export interface SmallAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  trailers: Record<string, string>
  endpoint: string
}

interface Endpoint {
  url: string
  origin: string
  pool: Pool
  /** Time of the last delivery failure; 0 when healthy. */
  failedAt: number
}

export const VIA_HEADER = 'x-supercluster-via'

/** Connection-level failures: the request was not processed by the member. */
function isDeliveryFailure (err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'EHOSTUNREACH' ||
    code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED'
}

export class MemberClient {
  readonly name: string
  readonly kind: MemberKind
  readonly spec: MemberSpec
  private readonly endpoints: Endpoint[]
  private readonly init: MemberClientInit
  private next = 0
  /** The member's own headers plus its basic-auth credentials, on every request. */
  readonly headers: Record<string, string>
  /** For https URLs outside the pools (the cluster REST API): the member's CA. */
  readonly dispatcher?: Agent

  constructor (spec: MemberSpec, init: MemberClientInit = {}) {
    this.name = spec.name
    this.kind = spec.kind
    this.spec = spec
    this.init = init
    this.headers = { ...memberAuthHeaders(spec), ...spec.headers }
    const connect = tlsOptions(spec)
    if (connect !== undefined) this.dispatcher = new Agent({ connect })
    this.endpoints = spec.urls.map(url => ({
      url: url.replace(/\/+$/, ''),
      origin: new URL(url).origin,
      failedAt: 0,
      pool: new Pool(new URL(url).origin, {
        connections: spec.concurrency,
        pipelining: 1,
        connectTimeout: spec.connectTimeoutMs,
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
        keepAliveTimeout: 4_000,
        ...(connect !== undefined ? { connect } : {}),
      }),
    }))
  }

  get urls (): string[] { return this.endpoints.map(e => e.url) }

  /** Requests running or waiting on this client's pools; a superseded client is closed once this is 0. */
  get inFlight (): number { return this.endpoints.reduce((n, e) => n + e.pool.stats.size, 0) }

  /** Endpoints in the order to try: healthy ones round-robin, then failed ones oldest-failure first. */
  private order (): Endpoint[] {
    const n = this.endpoints.length
    if (n === 1) return this.endpoints
    const start = this.next++ % n
    const rotated = [...this.endpoints.slice(start), ...this.endpoints.slice(0, start)]
    return [...rotated.filter(e => e.failedAt === 0), ...rotated.filter(e => e.failedAt !== 0).sort((a, b) => a.failedAt - b.failedAt)]
  }

  /**
   * Send a request and resolve with the response head; the body stream is the caller's.
   * Delivery failures move on to the next endpoint when the body can be replayed.
   */
  async request (command: string, req: MemberRequest): Promise<MemberResponse> {
    const started = performance.now()
    return await this.attempt(req.metricLabel ?? command, rpcPath(command, req), req, started, async (ep, path, headers) => {
      const res = await ep.pool.request({
        path,
        method: 'POST',
        headers,
        body: req.body ?? null,
        signal: req.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      } as Dispatcher.RequestOptions)
      const outcome = res.statusCode < 400 ? 'ok' : 'error'
      res.body.once('close', () => this.init.observe?.(this.name, req.metricLabel ?? command, outcome, (performance.now() - started) / 1000))
      return { status: res.statusCode, headers: res.headers, body: res.body as unknown as Readable, trailers: res.trailers, endpoint: ep.url }
    })
  }

  /**
   * Send a request and hand its answer to `sink` as it arrives, through undici's dispatch
   * API: no response stream object and no async iteration per chunk, which are most of
   * the cost of a small passed-through answer. Delivery failures before the answer began
   * fail over as in `request`; resolves with the trailers once the body ended, rejects on
   * a failure after the answer began (the sink has seen its head by then).
   */
  async stream (command: string, req: MemberRequest, sink: AnswerSink): Promise<Record<string, string>> {
    const started = performance.now()
    let status = 0
    const trailers = await this.attempt(req.metricLabel ?? command, rpcPath(command, req), req, started, async (ep, path, headers) => await new Promise<Record<string, string>>((resolve, reject) => {
      let began = false
      this.dispatchTo(ep, path, 'POST', headers, req, {
        onResponseStart (controller, statusCode, h) {
          status = statusCode
          began = true
          try {
            sink.start(statusCode, h)
          } catch (err) {
            controller.abort(err as Error)
          }
        },
        onResponseData (controller, chunk) {
          const wait = sink.write(chunk)
          if (wait === undefined) return
          controller.pause()
          wait.then(() => { controller.resume() }, (err: Error) => { controller.abort(err) })
        },
        onResponseEnd (_controller, t) { resolve(t as Record<string, string>) },
        // Once the answer began, a failure is the answer's: mapped here, so the endpoint
        // loop does not send the request again to another endpoint.
        onResponseError: (_controller, err) => { reject(began ? this.mapError(err) : err) },
      })
    }))
    this.init.observe?.(this.name, req.metricLabel ?? command, status < 400 ? 'ok' : 'error', (performance.now() - started) / 1000)
    return trailers
  }

  /**
   * A request whose answer is small (a JSON value or a few lines), collected in memory
   * through undici's dispatch API: no response stream objects, which are most of the
   * cost of a small call. Answers above `limit` bytes fail.
   */
  async small (command: string, req: MemberRequest, limit = 4 * 1024 * 1024): Promise<SmallAnswer> {
    return await this.smallAt(command, rpcPath(command, req), 'POST', req, limit)
  }

  /**
   * GET a path of a hub member's own API (`/supercluster/v1/...`), collected like `small`,
   * with the same headers, via chain and failover; `label` names it in the metrics.
   */
  async adminGet (label: string, path: string, req: Pick<MemberRequest, 'scope' | 'signal' | 'timeoutMs'>, limit = 4 * 1024 * 1024): Promise<SmallAnswer> {
    return await this.smallAt(label, path, 'GET', req, limit)
  }

  private async smallAt (command: string, fullPath: string, method: 'GET' | 'POST', req: MemberRequest, limit: number): Promise<SmallAnswer> {
    const started = performance.now()
    const answer = await this.attempt(command, fullPath, req, started, async (ep, path, headers) => await new Promise<SmallAnswer>((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      let status = 0
      let resHeaders: Record<string, string | string[] | undefined> = {}
      this.dispatchTo(ep, path, method, headers, req, {
        onResponseStart (_controller, statusCode, h) { status = statusCode; resHeaders = h },
        onResponseData: (controller, chunk) => {
          size += chunk.length
          if (size > limit) { controller.abort(new UpstreamProtocolError(this.name, `answer larger than ${limit} bytes`)); return }
          chunks.push(chunk)
        },
        onResponseEnd (_controller, trailers) {
          resolve({ status, headers: resHeaders, text: Buffer.concat(chunks).toString('utf8'), trailers: trailers as Record<string, string>, endpoint: ep.url })
        },
        onResponseError (_controller, err) { reject(err) },
      })
    }))
    this.init.observe?.(this.name, command, answer.status < 400 ? 'ok' : 'error', (performance.now() - started) / 1000)
    return answer
  }

  /**
   * One undici dispatch to `ep`: the call's AbortSignal aborts it for as long as it runs,
   * and is let go before `onResponseEnd` or `onResponseError` is told.
   */
  private dispatchTo (ep: Endpoint, path: string, method: 'GET' | 'POST', headers: Record<string, string>, req: MemberRequest,
    handler: Required<Pick<Dispatcher.DispatchHandler, 'onResponseStart' | 'onResponseData' | 'onResponseEnd' | 'onResponseError'>>): void {
    const signal = req.signal
    let onAbort: (() => void) | undefined
    const done = (): void => { if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort) }
    ep.pool.dispatch({
      origin: ep.origin,
      path,
      method,
      headers,
      body: req.body ?? null,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    }, {
      onRequestStart (controller) {
        if (signal === undefined) return
        if (signal.aborted) { controller.abort(signal.reason); return }
        onAbort = () => { controller.abort(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
      },
      onResponseStart: handler.onResponseStart,
      onResponseData: handler.onResponseData,
      onResponseEnd (controller, trailers) { done(); handler.onResponseEnd(controller, trailers) },
      onResponseError (controller, err) { done(); handler.onResponseError(controller, err) },
    })
  }

  /** The endpoint loop: failover on delivery failures while the body can be sent again. */
  private async attempt<T> (command: string, path: string, req: MemberRequest, started: number,
    send: (ep: Endpoint, path: string, headers: Record<string, string>) => Promise<T>): Promise<T> {
    const replayable = !(req.body instanceof Readable)
    const headers: Record<string, string> = { ...this.headers, ...req.headers }
    if (req.contentType !== undefined) headers['content-type'] = req.contentType
    const via = this.init.viaHeader?.(req.scope)
    if (via !== undefined && via !== '') headers[VIA_HEADER] = via
    if (req.scope.id !== undefined) headers[REQUEST_ID_HEADER] = req.scope.id
    const failures: Error[] = []
    for (const ep of req.endpoint !== undefined ? this.endpoints.filter(e => e.url === req.endpoint) : this.order()) {
      req.signal?.throwIfAborted()
      try {
        const out = await send(ep, path, headers)
        ep.failedAt = 0
        if (req.probe !== true) this.init.onTransport?.(this.name, true)
        return out
      } catch (err) {
        if (req.signal?.aborted === true) throw req.signal.reason
        const mapped = this.mapError(err)
        failures.push(mapped)
        if (isDeliveryFailure(err)) {
          ep.failedAt = Date.now()
          if (req.probe !== true) this.init.onTransport?.(this.name, false, mapped)
          if (replayable) continue
        }
        this.init.observe?.(this.name, command, 'error', (performance.now() - started) / 1000)
        throw mapped
      }
    }
    this.init.observe?.(this.name, command, 'error', (performance.now() - started) / 1000)
    throw failures.length === 1 ? failures[0] : new UpstreamUnreachableError(this.name, new Error(failures.map(f => f.message).join('; ')))
  }

  /** A single JSON value; a Kubo error answer becomes an UpstreamError carrying its message. */
  async json<T = unknown> (command: string, req: MemberRequest): Promise<T> {
    const res = await this.small(command, req)
    if (res.status >= 400) throw this.answerError(res, res.text)
    const text = res.text
    const nl = text.indexOf('\n')
    const line = (nl < 0 ? text : text.slice(0, nl)).trim()
    try {
      return JSON.parse(line) as T
    } catch (err) {
      throw new UpstreamProtocolError(this.name, `${command} answered non-JSON (${JSON.stringify(text.slice(0, 80))})`, err)
    }
  }

  /** NDJSON values, streamed; the trailer error (if any) is thrown at the end. */
  async * ndjson<T = unknown> (command: string, req: MemberRequest): AsyncGenerator<T> {
    const res = await this.request(command, req)
    if (res.status >= 400) throw this.answerError(res, await readText(res.body, this.name))
    yield * parseNdjson<T>(res, this.name, command)
  }

  /** The error a member answered with (status ≥ 400), in the member's own words. */
  answerError (res: { status: number, headers: Record<string, string | string[] | undefined> }, text: string): UpstreamError {
    const type = String(res.headers['content-type'] ?? '')
    let message = text.trim()
    if (type.startsWith('application/json')) {
      try {
        const parsed = JSON.parse(message) as { Message?: unknown, message?: unknown }
        const m = parsed.Message ?? parsed.message
        if (typeof m === 'string') message = m
      } catch {
        // keep the raw text
      }
    }
    if (message === '') message = `HTTP ${res.status}`
    // 508 (a lower hub refused a loop) stays 508 all the way to the client.
    const status = res.status === 400 || res.status === 508 ? res.status : 500
    return new UpstreamError(this.name, message, { upstreamStatus: res.status, status })
  }

  mapError (err: unknown): Error {
    if (err instanceof UpstreamError) return err
    const e = err as Error
    if (e instanceof undiciErrors.HeadersTimeoutError) return new UpstreamTimeoutError(this.name, 'headers', e)
    if (e instanceof undiciErrors.BodyTimeoutError) return new UpstreamTimeoutError(this.name, 'body', e)
    if (e instanceof undiciErrors.ConnectTimeoutError) return new UpstreamUnreachableError(this.name, e)
    if (isDeliveryFailure(e)) return new UpstreamUnreachableError(this.name, e)
    return new UpstreamError(this.name, `member ${this.name}: ${errorMessage(e)}`, { cause: e, status: 502 })
  }

  async close (): Promise<void> {
    await Promise.all(this.endpoints.map(async ep => { await ep.pool.close().catch(async () => { await ep.pool.destroy() }) }))
    await this.dispatcher?.close()
  }

  async destroy (): Promise<void> {
    await Promise.all(this.endpoints.map(async ep => { await ep.pool.destroy() }))
    await this.dispatcher?.destroy()
  }
}

/** `Authorization: Basic …` for a member with basic_auth. */
function memberAuthHeaders (spec: MemberSpec): Record<string, string> {
  if (spec.basicAuth === undefined) return {}
  return { authorization: `Basic ${Buffer.from(`${spec.basicAuth.user}:${spec.basicAuth.password}`).toString('base64')}` }
}

/** The CA of an https member, read once at start; an unreadable file stops the start. */
function tlsOptions (spec: MemberSpec): { ca: string } | undefined {
  if (spec.caFile === undefined) return undefined
  try {
    return { ca: readFileSync(spec.caFile, 'utf8') }
  } catch (err) {
    throw new Error(`member ${spec.name}: cannot read ca_file ${spec.caFile}: ${errorMessage(err)}`)
  }
}

function rpcPath (command: string, req: Pick<MemberRequest, 'args' | 'query'>): string {
  return `/api/v0/${command}?${buildQuery(req).toString()}`
}

export function buildQuery (req: Pick<MemberRequest, 'args' | 'query'>): URLSearchParams {
  const q = new URLSearchParams()
  for (const a of req.args ?? []) q.append('arg', a)
  const init = req.query
  if (init instanceof URLSearchParams) {
    for (const [k, v] of init) q.append(k, v)
  } else if (init !== undefined) {
    for (const [k, v] of Object.entries(init)) {
      if (v === undefined) continue
      if (Array.isArray(v)) for (const x of v) q.append(k, x)
      else q.append(k, String(v))
    }
  }
  return q
}

/** Read a whole (small) body as text. */
export async function readText (body: Readable, member: string, limit = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) {
      body.destroy()
      throw new UpstreamProtocolError(member, `answer larger than ${limit} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Split a response body into JSON values, one per line; throws the trailer error at the end. */
export async function * parseNdjson<T> (res: MemberResponse, member: string, command: string): AsyncGenerator<T> {
  let rest = ''
  const decoder = new TextDecoder()
  let done = false
  try {
    for await (const chunk of res.body) {
      rest += decoder.decode(chunk as Buffer, { stream: true })
      let nl: number
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl).trim()
        rest = rest.slice(nl + 1)
        if (line !== '') yield parseLine<T>(line, member, command)
      }
    }
    const last = (rest + decoder.decode()).trim()
    if (last !== '') yield parseLine<T>(last, member, command)
    done = true
  } finally {
    if (!done) res.body.destroy()
  }
  const trailer = res.trailers['x-stream-error']
  if (trailer !== undefined && trailer !== '') throw new UpstreamError(member, trailer)
}

function parseLine<T> (line: string, member: string, command: string): T {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    throw new UpstreamProtocolError(member, `${command} sent a line that is not JSON (${JSON.stringify(line.slice(0, 80))})`, err)
  }
  const v = value as { Type?: unknown, Message?: unknown }
  if (v !== null && typeof v === 'object' && v.Type === 'error' && typeof v.Message === 'string') {
    throw new UpstreamError(member, v.Message)
  }
  return value as T
}

/** Consume and discard a body we do not need (keeps the connection reusable). */
export async function discard (body: Readable | undefined): Promise<void> {
  if (body === undefined) return
  try {
    for await (const _ of body) { /* drain */ }
  } catch {
    // a broken body is discarded all the same
  }
}
