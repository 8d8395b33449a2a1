/**
 * @module kubo/transport
 * The Kubo RPC transport shared by the hub and the embedded node: the order of checks of
 * go-ipfs-cmds (CORS, prefix, method, Origin/Referer/User-Agent, parse, run), command
 * routing including the `/api/v0/pin/add/<cid>` path form, stdin arguments, the `timeout`
 * option, and one AbortSignal per request that fires when the client goes away, the
 * deadline passes, or the server shuts down. Errors of every kind leave through
 * `errorResponse`, the single boundary.
 */
import { Readable } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Hono, type Context } from 'hono'
import { anySignal } from 'any-signal'
import {
  BadRequestError, CommandError, CommandNotFoundError, DeadlineExceededError, ForbiddenError, MethodNotAllowedError, AbortedError,
} from '../errors.js'
import { errorResponse } from './respond.js'
import { multipartEntries } from './multipart.js'
import { checkArgs, parseGoDuration, parseQuery, type CommandSpec, type OptionValues } from './options.js'
import { BodyGuard, type BodyLimits } from './limits.js'
import { BACKGROUND, type RequestScope } from '../request-context.js'

export const API_PREFIX = '/api/v0/'

export interface CommandContext {
  c: Context
  command: string
  args: string[]
  options: OptionValues
  /** Fires on client disconnect, `timeout`, or shutdown; `signal.reason` says which. */
  signal: AbortSignal
  /** The request's id and via chain, for the member requests made for it. */
  scope: RequestScope
  /** The raw request URL (query included), for forwarding. */
  url: URL
  /** Content-Type of the request body ('' when none). */
  contentType: string
  /** The request body as a Node stream; read it at most once. */
  body: () => Readable
}

export type CommandHandler = (ctx: CommandContext) => Promise<Response>

export interface Command {
  spec: CommandSpec
  handler: CommandHandler
}

export interface RawContext {
  c: Context
  /** Path after `/api/v0/`, e.g. `swarm/peers`. */
  path: string
  url: URL
  signal: AbortSignal
  scope: RequestScope
  /** Whether the request has a body at all (a length above 0, or chunked). */
  hasBody: boolean
  body: () => Readable
}

export interface KuboAppOptions {
  commands: Command[]
  /** Port the API listens on, for the default Origin allow-list; 0 when unknown. */
  apiPort: () => number
  /** Extra allowed origins (`*` allows every origin). */
  allowedOrigins?: string[]
  /** Called for commands not in `commands`; default 404. The hub forwards them. */
  fallback?: (raw: RawContext) => Promise<Response>
  /** Aborts every in-flight request when it fires. */
  shutdownSignal?: AbortSignal
  /** Called with each finished request for metrics: command and outcome. */
  observe?: (command: string, status: number, seconds: number, scope: RequestScope) => void
  /** Called for errors that had to go into a trailer, or unexpected failures. */
  onError?: (err: unknown, command: string, scope: RequestScope) => void
  /** The request's scope (default BACKGROUND: an embedded node asks no members). */
  scopeOf?: (c: Context) => RequestScope
  /**
   * Called for each request that passed the method and CSRF checks, before anything
   * runs: refuses it by throwing (the hub's loop check).
   */
  admit?: (scope: RequestScope) => void
  /**
   * Called after the method and CSRF checks with the command that would run (its spec
   * path, or the decoded path of a forwarded one); throws to refuse (hub.auth roles).
   */
  authorize?: (c: Context, command: string) => void
  /** Request body size and stall limits, and the most arguments a request may carry. */
  limits?: BodyLimits & { maxArgs?: number }
}

const COMPANION_ORIGINS = ['chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch', 'chrome-extension://hjoieblefckbooibpepigmacodalfndh']

/** Registers the Kubo RPC API on `app` (a new one by default) and returns it. */
export function createKuboApp (opts: KuboAppOptions, app: Hono = new Hono()): Hono {
  const table = new Map(opts.commands.map(cmd => [cmd.spec.path, cmd]))
  const inflight = new Set<AbortController>()
  opts.shutdownSignal?.addEventListener('abort', () => {
    for (const ac of inflight) ac.abort(opts.shutdownSignal?.reason)
  }, { once: true })

  const allowed = (origin: string): boolean => {
    const extra = opts.allowedOrigins ?? []
    if (extra.includes('*') || extra.includes(origin)) return true
    if (COMPANION_ORIGINS.includes(origin)) return true
    const port = opts.apiPort()
    for (const scheme of ['http', 'https']) {
      for (const host of ['127.0.0.1', '[::1]', 'localhost']) {
        if (origin === `${scheme}://${host}:${port}`) return true
      }
    }
    return false
  }

  app.onError((err) => errorResponse(err))
  // Outside /api/v0 it is Go's plain mux 404, without the API's Vary.
  app.notFound(() => {
    const res = errorResponse(new CommandNotFoundError())
    res.headers.delete('vary')
    return res
  })

  app.all('/api/v0/*', async (c) => {
    const started = performance.now()
    const url = new URL(c.req.url)
    const guard = new BodyGuard(opts.limits)
    // The metric label: a known command, `passthrough`, or `invalid`; never the raw path,
    // which any client can vary without bound.
    let command = 'invalid'
    const scope = opts.scopeOf?.(c) ?? BACKGROUND
    let res: Response
    try {
      // Decoded once, as Go's r.URL.Path is: `pin%2Fadd` is pin/add here too, for routing
      // and for authorization alike.
      const path = decodePath(url.pathname).slice(API_PREFIX.length)
      const method = c.req.method
      const origin = c.req.header('origin')
      if (method === 'OPTIONS') return preflight(c, origin !== undefined && allowed(origin))
      if (method !== 'POST') throw new MethodNotAllowedError()
      csrfCheck(c, allowed)
      // Like Kubo, an allowed browser origin is told so on the answer itself.
      if (origin !== undefined && origin !== '') {
        (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing?.setHeader('Access-Control-Allow-Origin', origin)
      }

      const found = resolveCommand(table, path)
      opts.authorize?.(c, found?.command.spec.path ?? path.replace(/\/+$/, ''))
      guard.checkLength(c.req.header('content-length'))
      if (found !== undefined) command = found.command.spec.path
      else if (opts.fallback !== undefined) command = 'passthrough'
      opts.admit?.(scope)
      const { signal, dispose } = requestSignal(c, inflight)
      try {
        if (found !== undefined) {
          res = await run(c, found, url, signal, scope, guard, opts.limits?.maxArgs)
        } else if (opts.fallback !== undefined) {
          // Forwarded re-encoded, so a decoded `?` or `#` stays part of the path.
          res = await opts.fallback({ c, path: path.split('/').map(encodeURIComponent).join('/'), url, signal, scope, hasBody: hasRequestBody(c), body: () => guard.wrap(requestBody(c)) })
        } else {
          throw new CommandNotFoundError()
        }
      } finally {
        dispose()
      }
    } catch (err) {
      // A body over the limit or stalled fails whatever was reading it; the cause is the answer.
      res = errorResponse(guard.error ?? err)
      if (res.status >= 500) opts.onError?.(err, command, scope)
    }
    opts.observe?.(command, res.status, (performance.now() - started) / 1000, scope)
    return res
  })
  return app
}

/**
 * How Kubo words a `timeout` that ran out: most commands return the context's error as
 * it is; a few wrap it with their own prefix.
 */
const DEADLINE_PREFIX: Record<string, string> = { 'pin/add': 'pin', 'pin/update': 'pin' }

/** Parse a resolved command's arguments and options, apply `timeout`, and run it. */
async function run (c: Context, found: { command: Command, pathArg?: string }, url: URL, signal: AbortSignal, scope: RequestScope, guard: BodyGuard, maxArgs = 0): Promise<Response> {
  const { spec, handler } = found.command
  const { args, options } = parseQuery(spec, url.searchParams, found.pathArg)
  const contentType = c.req.header('content-type') ?? ''
  const isMultipart = contentType.toLowerCase().startsWith('multipart/form-data')
  let bodyUsed = false
  const body = (): Readable => {
    if (bodyUsed) throw new Error('request body read twice')
    bodyUsed = true
    return guard.wrap(requestBody(c))
  }
  if (isMultipart && spec.args?.some(a => a.stdin === true) === true && spec.args?.some(a => a.file === true) !== true) {
    args.push(...await stdinArgs(body(), contentType, signal))
  }
  if (maxArgs > 0 && args.length > maxArgs) throw new CommandError(`too many arguments: ${args.length} (at most ${maxArgs}: hub.limits.max_args)`, { client: true })
  checkArgs(spec, args, isMultipart)

  const timeout = options.timeout
  if (typeof timeout !== 'string' || timeout === '') {
    return await handler({ c, command: spec.path, args, options, signal, scope, url, contentType, body })
  }
  const ms = parseGoDuration(timeout)
  if (ms === undefined) throw new BadRequestError(`time: invalid duration "${timeout}"`)
  const deadline = new AbortController()
  const timer = setTimeout(() => { deadline.abort(new DeadlineExceededError(DEADLINE_PREFIX[spec.path])) }, Math.max(0, ms))
  const runSignal = anySignal([signal, deadline.signal])
  try {
    return await handler({ c, command: spec.path, args, options, signal: runSignal, scope, url, contentType, body })
  } catch (err) {
    // Whatever the handler saw when its signal fired, the cause is the deadline or the client.
    const reason: unknown = runSignal.reason
    throw runSignal.aborted && (reason instanceof DeadlineExceededError || reason instanceof AbortedError) ? reason : err
  } finally {
    clearTimeout(timer)
    runSignal.clear()
  }
}

/** Longest runnable command path that prefixes the request path; one extra segment is an argument. */
function resolveCommand (table: Map<string, Command>, path: string): { command: Command, pathArg?: string } | undefined {
  const exact = table.get(path)
  if (exact !== undefined) return { command: exact }
  const slash = path.lastIndexOf('/')
  if (slash <= 0) return undefined
  const parent = table.get(path.slice(0, slash))
  const tail = path.slice(slash + 1)
  if (parent === undefined || tail === '' || (parent.spec.args?.length ?? 0) === 0) return undefined
  return { command: parent, pathArg: tail }
}

/** The URL path percent-decoded; a malformed escape is a 400, as in Go's URL parser. */
function decodePath (pathname: string): string {
  if (!pathname.includes('%')) return pathname
  try {
    return decodeURIComponent(pathname)
  } catch {
    throw new BadRequestError(`invalid URL escape in path ${JSON.stringify(pathname.slice(0, 200))}`)
  }
}

function preflight (c: Context, originAllowed: boolean): Response {
  const reqMethod = c.req.header('access-control-request-method')
  if (reqMethod === undefined) {
    return new Response(null, { status: 204, headers: { Allow: 'OPTIONS, POST', Vary: 'Origin' } })
  }
  const headers: Record<string, string> = { Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers' }
  // As Kubo's CORS layer does: headers are allowed only when asked for, by echoing them,
  // and a request for any header outside the allowed set gets no CORS grant at all.
  const asked = c.req.header('access-control-request-headers') ?? ''
  const names = asked.split(',').map(s => s.trim().toLowerCase()).filter(s => s !== '')
  const headersOk = names.every(n => PREFLIGHT_HEADERS.has(n))
  if (originAllowed && reqMethod.toUpperCase() === 'POST' && headersOk) {
    headers['Access-Control-Allow-Origin'] = c.req.header('origin') ?? '*'
    headers['Access-Control-Allow-Methods'] = 'POST'
    if (names.length > 0) headers['Access-Control-Allow-Headers'] = asked
  }
  return new Response(null, { status: 204, headers })
}

/** Request headers a browser may ask to send (the CORS defaults Kubo's API uses, plus its own). */
const PREFLIGHT_HEADERS = new Set(['origin', 'accept', 'content-type', 'x-requested-with', 'authorization', 'x-stream-output', 'x-chunked-output', 'x-content-length'])

/** Kubo's browser protection (go-ipfs-cmds http/handler.go, Kubo's t0401 matrix). */
function csrfCheck (c: Context, allowed: (origin: string) => boolean): void {
  const origin = c.req.header('origin')
  const referer = c.req.header('referer')
  if (origin !== undefined && origin !== '' && !allowed(origin)) throw new ForbiddenError()
  if (referer !== undefined && referer !== '') {
    let base: string
    try {
      const u = new URL(referer)
      base = `${u.protocol}//${u.host}`
    } catch {
      throw new ForbiddenError()
    }
    if (!allowed(base)) throw new ForbiddenError()
  }
  if ((origin === undefined || origin === '') && (referer === undefined || referer === '')) {
    const ua = c.req.header('user-agent') ?? ''
    if (ua.startsWith('Mozilla') && !ua.includes('Electron')) throw new ForbiddenError()
  }
}

/**
 * One AbortController per request, aborted when the client goes away. Shutdown aborts
 * the registered ones instead of being combined into each request's signal: combining
 * costs more than the rest of a small request's handling.
 */
function requestSignal (c: Context, inflight: Set<AbortController>): { signal: AbortSignal, dispose: () => void } {
  const env = c.env as { incoming?: IncomingMessage, outgoing?: ServerResponse } | undefined
  const ac = new AbortController()
  inflight.add(ac)
  if (env?.outgoing !== undefined) {
    const out = env.outgoing
    const onClose = (): void => { if (!out.writableFinished) ac.abort(new AbortedError('client closed the connection')) }
    out.on('close', onClose)
    return { signal: ac.signal, dispose: () => { out.off('close', onClose); inflight.delete(ac) } }
  }
  const web = c.req.raw.signal
  const onAbort = (): void => { ac.abort(new AbortedError('client closed the connection')) }
  web.addEventListener('abort', onAbort, { once: true })
  return { signal: ac.signal, dispose: () => { web.removeEventListener('abort', onAbort); inflight.delete(ac) } }
}

/** Whether a body follows the head: a Content-Length above 0, or a chunked (or other) transfer coding. */
export function hasRequestBody (c: Context): boolean {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming === undefined) return c.req.raw.body !== null
  const length = incoming.headers['content-length']
  return incoming.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function requestBody (c: Context): Readable {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (incoming !== undefined) return incoming
  const web = c.req.raw.body
  if (web === null) return Readable.from([])
  return Readable.fromWeb(web as import('node:stream/web').ReadableStream<Uint8Array>)
}

/** Most bytes of stdin arguments held in memory (thousands of CIDs). */
const MAX_STDIN_ARGS_BYTES = 4 * 1024 * 1024

/** The first file part of a multipart body, one argument per line (CRLF tolerated). */
async function stdinArgs (body: Readable, contentType: string, signal: AbortSignal): Promise<string[]> {
  const chunks: Uint8Array[] = []
  let size = 0
  let first = true
  for await (const entry of multipartEntries(body, contentType, signal, { allowEmpty: true })) {
    for await (const chunk of entry.content ?? []) {
      if (!first) continue
      size += chunk.length
      if (size > MAX_STDIN_ARGS_BYTES) throw new CommandError(`arguments on stdin larger than ${MAX_STDIN_ARGS_BYTES} bytes`, { client: true })
      chunks.push(chunk)
    }
    if (entry.kind === 'file') first = false
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter(line => line !== '')
}
