/**
 * @module errors
 * One error hierarchy for the whole hub. Code throws these; the Kubo RPC boundary
 * (`src/kubo/respond.ts`) is the only place that turns them into Kubo's two wire shapes:
 * transport errors as one text/plain line, command errors as `{"Message","Code","Type"}`.
 * Every class has a stable `code` and sets `name`, so callers can match on `err.name`
 * even across duplicate module copies.
 */

/** Kubo's cmds error codes (go-ipfs-cmds `ErrorType`). */
export const KuboCode = { normal: 0, client: 1, implementation: 2, rateLimited: 3, forbidden: 4 } as const
export type KuboCode = (typeof KuboCode)[keyof typeof KuboCode]

export class HubError extends Error {
  static override readonly name: string = 'HubError'
  override name = 'HubError'
  readonly code: string = 'HUB_ERR'
  /** HTTP status used when this error is the whole response. */
  status = 500
  /** Kubo's `Code` field. */
  kuboCode: KuboCode = KuboCode.normal
  /** Extra response headers when this error is the whole response (`Allow`, `WWW-Authenticate`, ...). */
  headers: Record<string, string> = {}

  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * Raised before a command runs (bad method, bad option, missing argument, CSRF, unknown
 * command). Kubo answers these with a one-line text/plain body, not JSON.
 */
export class TransportError extends HubError {
  static override readonly name: string = 'TransportError'
  override name = 'TransportError'
  override readonly code: string = 'HUB_ERR_TRANSPORT'
  override readonly headers: Record<string, string>

  constructor (status: number, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.headers = headers
  }
}

export class MethodNotAllowedError extends TransportError {
  static override readonly name: string = 'MethodNotAllowedError'
  override name = 'MethodNotAllowedError'
  override readonly code = 'HUB_ERR_METHOD'
  constructor () { super(405, '405 - Method Not Allowed', { Allow: 'OPTIONS, POST' }) }
}

export class ForbiddenError extends TransportError {
  static override readonly name: string = 'ForbiddenError'
  override name = 'ForbiddenError'
  override readonly code = 'HUB_ERR_FORBIDDEN'
  constructor () { super(403, '403 - Forbidden') }
}

export class CommandNotFoundError extends TransportError {
  static override readonly name: string = 'CommandNotFoundError'
  override name = 'CommandNotFoundError'
  override readonly code = 'HUB_ERR_NOT_FOUND'
  constructor () { super(404, '404 page not found') }
}

/** 400 text/plain: the request could not be parsed into a command invocation. */
export class BadRequestError extends TransportError {
  static override readonly name: string = 'BadRequestError'
  override name = 'BadRequestError'
  override readonly code = 'HUB_ERR_BAD_REQUEST'
  constructor (message: string) { super(400, message) }
}

/** What this software calls itself in `Server` and `AgentVersion`. */
export const SERVER_HEADER = 'supercluster/0.1.0'

/**
 * `encoding=` other than json: a 400 Kubo gives after its API headers are set, so of
 * those it carries `Server` (the only plain-text error that does).
 */
export class InvalidEncodingError extends BadRequestError {
  static override readonly name: string = 'InvalidEncodingError'
  override name = 'InvalidEncodingError'
  override readonly headers = { Server: SERVER_HEADER }
  constructor (encoding: string) { super(`invalid encoding: ${encoding}`) }
}

/** 431: request header fields too large. */
export class HeaderTooLargeError extends TransportError {
  static override readonly name: string = 'HeaderTooLargeError'
  override name = 'HeaderTooLargeError'
  override readonly code = 'HUB_ERR_HEADER_TOO_LARGE'
  constructor () { super(431, '431 Request Header Fields Too Large') }
}

/** A command failed: Kubo's JSON error, status 500 (400 for client errors). */
export class CommandError extends HubError {
  static override readonly name: string = 'CommandError'
  override name = 'CommandError'
  override readonly code: string = 'HUB_ERR_COMMAND'

  constructor (message: string, options?: { cause?: unknown, client?: boolean }) {
    super(message, options)
    if (options?.client === true) {
      this.kuboCode = KuboCode.client
      this.status = 400
    }
  }
}

export class InvalidArgumentError extends CommandError {
  static override readonly name: string = 'InvalidArgumentError'
  override name = 'InvalidArgumentError'
  override readonly code = 'HUB_ERR_INVALID_ARGUMENT'
}

export class InvalidCidError extends CommandError {
  static override readonly name: string = 'InvalidCidError'
  override name = 'InvalidCidError'
  override readonly code = 'HUB_ERR_INVALID_CID'
  constructor (arg: string, cause?: unknown) {
    super(`invalid path "${arg}": ${cause instanceof Error ? cause.message : 'not a CID'}`, { cause })
  }
}

/** `pin/ls` of something the hub does not pin; the wording is Kubo's. */
export class PinNotFoundError extends CommandError {
  static override readonly name: string = 'PinNotFoundError'
  override name = 'PinNotFoundError'
  override readonly code = 'HUB_ERR_PIN_NOT_FOUND'
  constructor (arg: string) { super(`path '${arg}' is not pinned`) }
}

/** `pin/rm` of something not pinned; Kubo's wording, which cluster connectors look for. */
export class NotPinnedError extends CommandError {
  static override readonly name: string = 'NotPinnedError'
  override name = 'NotPinnedError'
  override readonly code = 'HUB_ERR_NOT_PINNED'
  constructor () { super('not pinned or pinned indirectly') }
}

/** The request deadline passed; the phrase is what kubo-rpc-client maps to TimeoutError. */
export class DeadlineExceededError extends CommandError {
  static override readonly name: string = 'DeadlineExceededError'
  override name = 'DeadlineExceededError'
  override readonly code = 'HUB_ERR_DEADLINE'
  /** `what` prefixes the message where Kubo wraps the context's error (`pin: …`). */
  constructor (what?: string) { super(what === undefined ? 'context deadline exceeded' : `${what}: context deadline exceeded`) }
}

/** The client went away or the hub is shutting down. */
export class AbortedError extends CommandError {
  static override readonly name: string = 'AbortedError'
  override name = 'AbortedError'
  override readonly code = 'HUB_ERR_ABORTED'
  constructor (message = 'request aborted') { super(message) }
}

/** A member answered with an error, or could not be reached. */
export class UpstreamError extends CommandError {
  static override readonly name: string = 'UpstreamError'
  override name = 'UpstreamError'
  override readonly code: string = 'HUB_ERR_UPSTREAM'
  readonly member: string
  /** The member's HTTP status, or undefined when it was never reached. */
  readonly upstreamStatus?: number

  constructor (member: string, message: string, options?: { cause?: unknown, upstreamStatus?: number, status?: number }) {
    super(message, options)
    this.member = member
    this.upstreamStatus = options?.upstreamStatus
    if (options?.status !== undefined) this.status = options.status
  }
}

/** No connection to a member could be made: 502, like a reverse proxy. */
export class UpstreamUnreachableError extends UpstreamError {
  static override readonly name: string = 'UpstreamUnreachableError'
  override name = 'UpstreamUnreachableError'
  override readonly code = 'HUB_ERR_UPSTREAM_UNREACHABLE'
  constructor (member: string, cause?: unknown) {
    const why = cause instanceof Error ? `${cause.message}${errCode(cause)}` : String(cause ?? 'unreachable')
    super(member, `member ${member} unreachable: ${why}`, { cause, status: 502 })
  }
}

/** A member took longer than its configured timeout. */
export class UpstreamTimeoutError extends UpstreamError {
  static override readonly name: string = 'UpstreamTimeoutError'
  override name = 'UpstreamTimeoutError'
  override readonly code = 'HUB_ERR_UPSTREAM_TIMEOUT'
  constructor (member: string, phase: string, cause?: unknown) {
    super(member, `member ${member}: ${phase} timeout: context deadline exceeded`, { cause, status: 504 })
  }
}

/** A member answered something that is not the Kubo RPC it should speak. */
export class UpstreamProtocolError extends UpstreamError {
  static override readonly name: string = 'UpstreamProtocolError'
  override name = 'UpstreamProtocolError'
  override readonly code = 'HUB_ERR_UPSTREAM_PROTOCOL'
  constructor (member: string, what: string, cause?: unknown) {
    super(member, `member ${member} sent an invalid response: ${what}`, { cause, status: 502 })
  }
}

/** An error a member answered in its own words, as opposed to failing to answer (unreachable, timed out, garbled). */
export function isMemberAnswer (err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && !(err instanceof UpstreamUnreachableError || err instanceof UpstreamTimeoutError || err instanceof UpstreamProtocolError)
}

/** No member is available for a command that needs one. */
export class NoMemberAvailableError extends CommandError {
  static override readonly name: string = 'NoMemberAvailableError'
  override name = 'NoMemberAvailableError'
  override readonly code = 'HUB_ERR_NO_MEMBER'
  constructor (what: string) {
    super(`no member available for ${what}: every candidate is down or excluded (check the members' health with 'supercluster status')`)
    this.status = 502
  }
}

/** Fewer members than replication.min acknowledged a pin by the deadline. */
export class NotEnoughReplicasError extends CommandError {
  static override readonly name: string = 'NotEnoughReplicasError'
  override name = 'NotEnoughReplicasError'
  override readonly code = 'HUB_ERR_NOT_ENOUGH_REPLICAS'
  readonly acknowledged: number
  readonly needed: number
  constructor (cid: string, acknowledged: number, needed: number, failures: string[]) {
    const detail = failures.length > 0 ? `: ${failures.join('; ')}` : ''
    super(`pin ${cid}: only ${acknowledged} of the required ${needed} members acknowledged${detail}`)
    this.acknowledged = acknowledged
    this.needed = needed
  }
}

/** Several members failed; keeps each one's error. */
export class AllMembersFailedError extends CommandError {
  static override readonly name: string = 'AllMembersFailedError'
  override name = 'AllMembersFailedError'
  override readonly code = 'HUB_ERR_ALL_FAILED'
  readonly errors: Error[]
  constructor (what: string, errors: Error[]) {
    super(`${what} failed on every member: ${errors.map(e => e.message).join('; ')}`)
    this.errors = errors
  }
}

/** A topology file is invalid; each line is `file:line:col path: message`. */
export class TopologyError extends HubError {
  static override readonly name: string = 'TopologyError'
  override name = 'TopologyError'
  override readonly code: string = 'HUB_ERR_TOPOLOGY'
  readonly problems: string[]
  constructor (problems: string[]) {
    super(problems.join('\n'))
    this.problems = problems
  }
}

/**
 * A valid topology that the running hub cannot take without a restart (hub.id,
 * hub.listen, hub.state, ...); the running topology stays. Each line names the setting.
 */
export class TopologyRefusedError extends TopologyError {
  static override readonly name: string = 'TopologyRefusedError'
  override name = 'TopologyRefusedError'
  override readonly code = 'HUB_ERR_TOPOLOGY_REFUSED'
}

/**
 * No credentials, or credentials the hub does not know (hub.auth): 401 with a challenge
 * for both schemes a client may use.
 */
export class UnauthorizedError extends CommandError {
  static override readonly name: string = 'UnauthorizedError'
  override name = 'UnauthorizedError'
  override readonly code = 'HUB_ERR_UNAUTHORIZED'
  constructor (message = 'authentication required: send "Authorization: Bearer <token>" or Basic credentials listed in the hub\'s hub.auth') {
    super(message)
    this.status = 401
    this.kuboCode = KuboCode.forbidden
    this.headers = { 'WWW-Authenticate': 'Bearer realm="supercluster", Basic realm="supercluster", charset="UTF-8"' }
  }
}

/** Known credentials whose role does not cover the command: 403 in Kubo's JSON shape. */
export class AccessDeniedError extends CommandError {
  static override readonly name: string = 'AccessDeniedError'
  override name = 'AccessDeniedError'
  override readonly code = 'HUB_ERR_ACCESS_DENIED'
  constructor (message: string) {
    super(message)
    this.status = 403
    this.kuboCode = KuboCode.forbidden
  }
}

/** A request body above hub.limits.max_add_bytes: 413, and the connection closes. */
export class PayloadTooLargeError extends CommandError {
  static override readonly name: string = 'PayloadTooLargeError'
  override name = 'PayloadTooLargeError'
  override readonly code = 'HUB_ERR_PAYLOAD_TOO_LARGE'
  constructor (limit: number) {
    super(`request body larger than ${limit} bytes (hub.limits.max_add_bytes)`, { client: true })
    this.status = 413
    this.headers = { Connection: 'close' }
  }
}

/** A request body that stopped arriving (slow or stalled client): 408, and the connection closes. */
export class BodyTimeoutError extends CommandError {
  static override readonly name: string = 'BodyTimeoutError'
  override name = 'BodyTimeoutError'
  override readonly code = 'HUB_ERR_BODY_TIMEOUT'
  constructor (ms: number) {
    super(`request body stalled: nothing received for ${ms} ms (hub.limits.body_idle_timeout)`, { client: true })
    this.status = 408
    this.headers = { Connection: 'close' }
  }
}

/** One client address has too many requests in flight (hub.limits.max_concurrent_per_client). */
export class TooManyRequestsError extends CommandError {
  static override readonly name: string = 'TooManyRequestsError'
  override name = 'TooManyRequestsError'
  override readonly code = 'HUB_ERR_TOO_MANY_REQUESTS'
  constructor (limit: number) {
    super(`too many requests in flight from this client (at most ${limit}: hub.limits.max_concurrent_per_client)`)
    this.status = 429
    this.kuboCode = KuboCode.rateLimited
    this.headers = { 'Retry-After': '1' }
  }
}

/**
 * A request has passed through this hub already (`loop`), or through `hub.max_depth` hubs
 * (`depth`): HTTP 508 Loop Detected, answered before any member is asked.
 */
export class LoopDetectedError extends CommandError {
  static override readonly name: string = 'LoopDetectedError'
  override name = 'LoopDetectedError'
  override readonly code = 'HUB_ERR_LOOP'
  readonly reason: 'loop' | 'depth'
  constructor (message: string, reason: 'loop' | 'depth' = 'loop') {
    super(message)
    this.status = 508
    this.reason = reason
  }
}

/**
 * A 508 refusal: this hub's own, or a member's (a lower hub found a loop or hit its depth
 * cap). It is passed to the client as it is: never retried, failed over, or taken as the
 * member being down.
 */
export function isLoopRefusal (err: unknown): boolean {
  return err instanceof LoopDetectedError || (err instanceof UpstreamError && err.upstreamStatus === 508)
}

function errCode (err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? ` (${code})` : ''
}

/** Message of an unknown thrown value. */
export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
