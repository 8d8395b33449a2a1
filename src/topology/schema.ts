/**
 * @module topology/schema
 * The shape of a topology file (zod, strict: an unknown key is a mistake, not a comment)
 * and the normalised `Topology` the rest of the hub consumes: durations in milliseconds,
 * defaults applied to every member, the passthrough member and each placement rule's
 * members resolved to names. Field validators throw plain messages; zod attaches the
 * path, and `load.ts` turns the path into a file position.
 */
import { z } from 'zod'
import { parseDuration } from './duration.js'
import bytes from 'bytes-iec'

// ---------------------------------------------------------------------------------------
// Normalised types
// ---------------------------------------------------------------------------------------

export const MEMBER_KINDS = ['cluster-proxy', 'kubo', 'hub', 'embedded'] as const
export type MemberKind = (typeof MEMBER_KINDS)[number]

/** How many members should hold a pin: at least `min` acknowledge, at most `max` hold it. */
export interface Replication { min: number, max: number }

export interface HealthSpec {
  /** Time between two probes of a member. */
  intervalMs: number
  /** A probe slower than this counts as failed. */
  timeoutMs: number
  /** Consecutive failed probes before the member is marked down. */
  failures: number
}

export interface HubSpec {
  /** Unique among hubs that can reach each other; sent along requests for loop detection. */
  id: string
  /** Kubo RPC API listen address, `host:port` (IPv6 as `[::1]:5001`). */
  listen: string
  /** Directory of the embedded SQLite store, or a `postgres://` URL; relative paths are relative to the working directory. */
  state: string
  stateBackend: 'sqlite' | 'postgres' | 'memory'
  maxDepth: number
  shutdownTimeoutMs: number
  /** Extra browser Origins allowed through the CSRF check. */
  apiOrigins: string[]
  reconcile: ReconcileSpec
  rebalance: RebalanceSpec
  /** Credentials accepted on the hub's APIs; absent: no authentication (loopback only). */
  auth?: CredentialSpec[]
  /** Serve the APIs over https with these PEM files. */
  tls?: TlsSpec
  /** The public read-only gateway listener (`GET /ipfs/...`). */
  gateway?: GatewaySpec
  /** Request limits; absent: `DEFAULT_LIMITS`. */
  limits?: LimitsSpec
}

export const ROLES = ['read', 'write', 'admin'] as const
/** What a credential may do: `read` ⊂ `write` ⊂ `admin`. */
export type Role = (typeof ROLES)[number]

/** One accepted credential. `secret` is `sha256:<hex>`, `scrypt:<salt hex>:<key hex>`, or the plaintext. */
export interface CredentialSpec {
  /** A label for logs (never the secret): the `name` key, else `auth[<index>]`. */
  name: string
  scheme: 'bearer' | 'basic'
  /** Basic only. */
  user?: string
  secret: string
  role: Role
}

export interface TlsSpec { certFile: string, keyFile: string }

export interface GatewaySpec {
  listen: string
  /** Let members fetch content they do not hold from the network (default false: held content only). */
  fetchFromNetwork: boolean
}

export interface LimitsSpec {
  /** Largest request body on the Kubo RPC API (`add` uploads and the rest); 0 = no limit. */
  maxAddBytes: number
  /** Largest request head (request line and headers); more gets 431. */
  maxHeaderBytes: number
  /** Most arguments one request may carry (query, path and stdin together). */
  maxArgs: number
  /** Requests one client address may have in flight; more get 429. 0 = no limit. */
  maxConcurrentPerClient: number
  /** Time to receive a request's head. */
  headersTimeoutMs: number
  /** Longest pause between two chunks of a request body before the request is dropped. */
  bodyIdleTimeoutMs: number
}

/** The repair loop (one hub at a time runs it). */
export interface ReconcileSpec {
  /** How often every member's pins are listed and compared with the store. */
  intervalMs: number
  /** How long a member may be down before its pins are placed elsewhere to keep `min`. */
  graceMs: number
  /** First retry delay after a failed member call; doubles per attempt, with jitter, up to retryMaxMs. */
  retryBaseMs: number
  retryMaxMs: number
}

/** Moving pins after a topology change (added, removed or draining members, new rules). */
export interface RebalanceSpec {
  /** Pins per second that get new copies while moving; their old copies go once those are pinned. */
  rate: number
  /** How long a removed member's client is kept for moving its pins away; what is left stays as intents. */
  drainTimeoutMs: number
}

export interface Defaults {
  replication: Replication
  timeoutMs: number
  connectTimeoutMs: number
  concurrency: number
  health: HealthSpec
  /** Bytes a member must keep free; below it, it gets no new pins (0 = no floor). */
  minFreeSpace: number
}

export interface MemberSpec {
  name: string
  kind: MemberKind
  /** Base URLs without a trailing slash; several = peers of one sub-cluster, failover between them. */
  urls: string[]
  /** IPFS Cluster REST API base URL (cluster-proxy only). */
  restApi?: string
  tags: Record<string, string>
  weight: number
  /** Requests in flight to this member at most. */
  concurrency: number
  /** Bytes this member must keep free; below it, it gets no new pins (0 = no floor). */
  minFreeSpace: number
  timeoutMs: number
  connectTimeoutMs: number
  /** Extra request headers; values may hold secrets (interpolated from the environment). */
  headers: Record<string, string>
  /** Draining: no new pins go here, and the pins it holds are moved to other members. */
  drain: boolean
  /** HTTP basic credentials sent to this member (and its REST API). */
  basicAuth?: { user: string, password: string }
  /** PEM file of the CA that signed an https member's certificate (else the system's CAs). */
  caFile?: string
  /** Embedded only: where the hub runs this node's Kubo RPC API. */
  listen?: string
  /** Embedded only: the node's block and pin repository directory. */
  repo?: string
}

export interface PlacementRule {
  /** Pin-name glob (`*` any run of characters, `/` included; `?` one); absent = every pin. */
  match: { name?: string }
  /** The selector as written: members must carry all `tags` and, when `names` is given, be named in it. */
  members: { tags: Record<string, string>, names?: string[] }
  /** Names of the members the selector picks, in topology order (never empty). */
  memberNames: string[]
  /** The rule's replication, else the defaults'. */
  replication: Replication
}

export interface Topology {
  version: 1
  hub: HubSpec
  defaults: Defaults
  members: MemberSpec[]
  placement: PlacementRule[]
  /** Member that receives the commands the hub does not intercept. */
  passthrough: string
}

export const DEFAULT_LISTEN = '127.0.0.1:5001'

// ---------------------------------------------------------------------------------------
// Small pure helpers (also used by the cross-field checks and at run time)
// ---------------------------------------------------------------------------------------

/**
 * Split `host:port` (`[v6]:port` for IPv6) into its parts; the host comes back without
 * brackets. Port 0 is allowed (an ephemeral port, for tests).
 * @throws Error when the text is not host:port.
 */
export function parseHostPort (s: string): { host: string, port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s.trim())
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new Error(`expected host:port, like 127.0.0.1:5001, got "${s}"`)
  return { host: (m[1] ?? m[2]).toLowerCase(), port }
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'])

/** `host:port` key under which loopback spellings (and the wildcard address) compare equal. */
export function endpointKey (host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return `${LOCAL_HOSTS.has(h) ? 'local' : h}:${port}`
}

/** host:port key of an http(s) URL, default ports applied; undefined if not a URL. */
export function urlEndpointKey (url: string): string | undefined {
  try {
    const u = new URL(url)
    const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80
    return endpointKey(u.hostname, port)
  } catch {
    return undefined
  }
}

/** One member URL that points back at the hub's own listen address. */
export interface HubOverlap { member: string, memberIndex: number, urlIndex: number, url: string }

/**
 * Member URLs whose host:port is the hub's own listen address (127.0.0.1, localhost,
 * [::1] and 0.0.0.0 count as the same host): requests sent there would loop back into
 * the hub. Takes any object with the topology's shape so that a daemon whose listen
 * address was overridden on the command line can check again.
 */
export function memberUrlsOverlapHub (topology: {
  hub: { listen: string }
  members: ReadonlyArray<{ name: string, urls: readonly string[] }>
}): HubOverlap[] {
  let hub: string
  try {
    const { host, port } = parseHostPort(topology.hub.listen)
    hub = endpointKey(host, port)
  } catch {
    return []
  }
  const out: HubOverlap[] = []
  topology.members.forEach((m, memberIndex) => {
    m.urls.forEach((url, urlIndex) => {
      if (urlEndpointKey(url) === hub) out.push({ member: m.name, memberIndex, urlIndex, url })
    })
  })
  return out
}

/** Does a pin name match a placement glob? `*` is any run of characters (`/` included), `?` one. */
export function pinNameMatches (glob: string, name: string): boolean {
  return pinNameMatcher(glob)(name)
}

/** The glob compiled once, for matching many names. */
export function pinNameMatcher (glob: string): (name: string) => boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\*?]/g, c => c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : `\\${c}`)}$`)
  return (name) => re.test(name)
}

/** Members a placement selector picks: all `tags` must match, and `names` (when given) must list them. */
export function selectMembers<M extends { name: string, tags: Record<string, string> }> (
  members: readonly M[], select: { tags?: Record<string, string>, names?: readonly string[] },
): M[] {
  return members.filter(m =>
    (select.names === undefined || select.names.includes(m.name)) &&
    Object.entries(select.tags ?? {}).every(([k, v]) => m.tags[k] === v))
}

// ---------------------------------------------------------------------------------------
// Field validators: take what YAML produced, return the value or throw a message
// ---------------------------------------------------------------------------------------

export const NAME_RE = /^[A-Za-z0-9._-]+$/

function describe (v: unknown): string {
  if (v === null) return 'an empty value'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `"${v}"`
  return String(v)
}

function str (v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Error(`expected ${what}, got ${describe(v)}`)
  return v
}

function name (v: unknown): string {
  const s = str(v, 'a name')
  if (!NAME_RE.test(s)) throw new Error(`expected a name of letters, digits, ".", "_" or "-", got "${s}"`)
  return s
}

function httpUrl (v: unknown): string {
  let u: URL | undefined
  try { u = typeof v === 'string' ? new URL(v) : undefined } catch { u = undefined }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw new Error('expected an http(s) URL')
  }
  if (u.search !== '' || u.hash !== '') throw new Error('expected an http(s) URL without ?query or #fragment')
  return (v as string).trim().replace(/\/+$/, '')
}

function origin (v: unknown): string {
  const s = str(v, 'an origin like https://app.example.com').trim().replace(/\/$/, '')
  let o: string | undefined
  try { o = new URL(s).origin } catch { o = undefined }
  if (o === undefined || o === 'null' || o !== s.toLowerCase()) {
    throw new Error(`expected an origin like https://app.example.com (scheme, host and port only), got "${s}"`)
  }
  return s
}

function hostPort (v: unknown): string {
  const s = str(v, 'host:port, like 127.0.0.1:5001')
  parseHostPort(s)
  return s.trim()
}

function nonEmpty (v: unknown): string {
  const s = str(v, 'a string')
  if (s.trim() === '') throw new Error('must not be empty')
  return s
}

/** Numbers may arrive as digit strings from `${VAR}` interpolation. */
function num (v: unknown): number {
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim())) return Number(v)
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`expected a number, got ${describe(v)}`)
  return v
}

function posInt (v: unknown): number {
  const n = num(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a whole number >= 1, got ${n}`)
  return n
}

function positive (v: unknown): number {
  const n = num(v)
  if (n <= 0) throw new Error(`must be greater than 0, got ${n}`)
  return n
}

function duration (v: unknown): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`expected a duration like 30s, got ${describe(v)}`)
  return parseDuration(v)
}

function positiveDuration (v: unknown): number {
  const ms = duration(v)
  if (ms <= 0) throw new Error('must be longer than 0')
  return ms
}

/** A size like 10GiB, 500MB or a number of bytes. */
function size (v: unknown): number {
  const n = typeof v === 'number' || typeof v === 'string' ? bytes.parse(v) : null
  if (n === null || !Number.isFinite(n) || n < 0) throw new Error(`expected a size like 10GiB, 500MB or a number of bytes, got ${describe(v)}`)
  return Math.floor(n)
}

function bool (v: unknown): boolean {
  if (typeof v !== 'boolean') throw new Error(`expected true or false, got ${describe(v)}`)
  return v
}

function scalarString (v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return str(v, 'a string')
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function headerValue (v: unknown): string {
  const s = scalarString(v)
  if (/[\r\n\0]/.test(s)) throw new Error('a header value must not contain line breaks')
  return s
}

/** A credential secret: `sha256:<64 hex>`, `scrypt:<salt hex>:<key hex>`, or plaintext (from `${ENV}`). */
function secret (v: unknown): string {
  const s = scalarString(v)
  if (s === '') throw new Error('must not be empty')
  if (s.startsWith('sha256:') && !/^sha256:[0-9a-fA-F]{64}$/.test(s)) throw new Error('expected sha256: followed by 64 hex digits (supercluster auth hash)')
  if (s.startsWith('scrypt:') && !/^scrypt:[0-9a-fA-F]{16,}:[0-9a-fA-F]{32,}$/.test(s)) throw new Error('expected scrypt:<salt hex>:<key hex> (supercluster auth hash --scrypt)')
  return s
}

function role (v: unknown): Role {
  if (typeof v !== 'string' || !(ROLES as readonly string[]).includes(v)) throw new Error(`expected one of ${ROLES.join(', ')}, got ${describe(v)}`)
  return v as Role
}

function nonNegInt (v: unknown): number {
  const n = num(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number >= 0, got ${n}`)
  return n
}

function version (v: unknown): 1 {
  if (v !== 1) throw new Error(`unsupported version ${describe(v)}: this supercluster reads version 1`)
  return 1
}

function kind (v: unknown): MemberKind {
  if (typeof v !== 'string' || !(MEMBER_KINDS as readonly string[]).includes(v)) {
    throw new Error(`expected one of ${MEMBER_KINDS.join(', ')}, got ${describe(v)}`)
  }
  return v as MemberKind
}

type Ctx = z.core.$RefinementCtx<unknown>

function report (ctx: Ctx, v: unknown, err: unknown, path: PropertyKey[] = [], atKey = false): void {
  const message = err instanceof Error ? err.message : String(err)
  ctx.issues.push({ code: 'custom', message, input: v, path, ...(atKey ? { params: { at: 'key' } } : {}) })
}

/** A required field checked by `check`; absence reads "required". */
function req<T> (check: (v: unknown) => T) {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined || v === null) { report(ctx, v, 'required'); return z.NEVER }
    try { return check(v) } catch (err) { report(ctx, v, err); return z.NEVER }
  })
}

/** An optional field; YAML's empty value (`key:`) counts as absent. */
function opt<T> (check: (v: unknown) => T) {
  return z.unknown().transform((v, ctx): T | undefined => {
    if (v === undefined || v === null) return undefined
    try { return check(v) } catch (err) { report(ctx, v, err); return z.NEVER }
  }).optional()
}

/** A string-keyed map whose keys and values are checked one by one (issues land on the key's path). */
function mapOf (value: (v: unknown) => string, key?: (k: string) => void) {
  return z.unknown().transform((v, ctx): Record<string, string> | undefined => {
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'object' || Array.isArray(v)) { report(ctx, v, `expected a mapping, got ${describe(v)}`); return z.NEVER }
    const out: Record<string, string> = {}
    let ok = true
    for (const [k, x] of Object.entries(v)) {
      try { key?.(k) } catch (err) { report(ctx, x, err, [k], true); ok = false; continue }
      try { out[k] = value(x) } catch (err) { report(ctx, x, err, [k]); ok = false }
    }
    return ok ? out : z.NEVER
  }).optional()
}

function list<T extends z.ZodType> (item: T, what: string) {
  return z.array(item, { error: iss => iss.input === undefined ? 'required' : `expected a list of ${what}, got ${describe(iss.input)}` })
}

function obj<S extends z.core.$ZodLooseShape> (shape: S, what: string) {
  return z.strictObject(shape, { error: iss => iss.code === 'invalid_type' ? (iss.input === undefined ? 'required' : `expected ${what}, got ${describe(iss.input)}`) : undefined })
}

// ---------------------------------------------------------------------------------------
// The file's shape
// ---------------------------------------------------------------------------------------

const ReplicationFile = obj({ min: opt(posInt), max: opt(posInt) }, 'a mapping like { min: 1, max: 2 }')

export const MemberFileSchema = obj({
  name: req(name),
  kind: req(kind),
  url: opt(httpUrl),
  urls: list(req(httpUrl), 'http(s) URLs').min(1, 'list at least one URL').nullish(),
  rest_api: opt(httpUrl),
  tags: mapOf(scalarString),
  weight: opt(positive),
  concurrency: opt(posInt),
  min_free_space: opt(size),
  timeout: opt(positiveDuration),
  connect_timeout: opt(positiveDuration),
  headers: mapOf(headerValue, k => { if (!HEADER_NAME.test(k)) throw new Error(`"${k}" is not a valid HTTP header name`) }),
  listen: opt(hostPort),
  repo: opt(nonEmpty),
  drain: opt(bool),
  basic_auth: obj({ user: req(nonEmpty), password: req(scalarString) }, 'a mapping like { user: hub, password: "${PASSWORD}" }').nullish(),
  ca_file: opt(nonEmpty),
}, 'a member mapping')

export const CredentialFileSchema = obj({
  name: opt(name),
  bearer: opt(secret),
  basic: obj({ user: req(nonEmpty), password: req(secret) }, 'a mapping like { user: alice, password: "sha256:..." }').nullish(),
  role: req(role),
}, 'a mapping like { bearer: "${TOKEN}", role: read }')

export const PlacementRuleFileSchema = obj({
  match: obj({ name: opt(nonEmpty) }, 'a mapping like { name: "iso/*" }').nullish(),
  members: obj({
    tags: mapOf(scalarString),
    names: list(req(name), 'member names').min(1, 'list at least one member name, or leave names out').nullish(),
  }, 'a mapping like { tags: { region: us } } or { names: [a, b] }').nullish(),
  replication: ReplicationFile.nullish(),
}, 'a placement rule mapping')

export const TopologyFileSchema = obj({
  version: req(version),
  hub: obj({
    id: req(name),
    listen: opt(hostPort),
    state: opt(nonEmpty),
    max_depth: opt(posInt),
    shutdown_timeout: opt(duration),
    api_origins: list(req(origin), 'origins').nullish(),
    reconcile: obj({
      interval: opt(positiveDuration),
      grace: opt(duration),
      retry_base: opt(positiveDuration),
      retry_max: opt(positiveDuration),
    }, 'a mapping like { interval: 1m, grace: 5m }').nullish(),
    rebalance: obj({
      rate: opt(positive),
      drain_timeout: opt(positiveDuration),
    }, 'a mapping like { rate: 100, drain_timeout: 1h }').nullish(),
    auth: list(CredentialFileSchema, 'credentials').nullish(),
    tls: obj({ cert: req(nonEmpty), key: req(nonEmpty) }, 'a mapping like { cert: hub.crt, key: hub.key }').nullish(),
    gateway: obj({ listen: req(hostPort), fetch_from_network: opt(bool) }, 'a mapping like { listen: 127.0.0.1:8080 }').nullish(),
    limits: obj({
      max_add_bytes: opt(size),
      max_header_bytes: opt(size),
      max_args: opt(posInt),
      max_concurrent_per_client: opt(nonNegInt),
      headers_timeout: opt(positiveDuration),
      body_idle_timeout: opt(positiveDuration),
    }, 'a mapping like { max_add_bytes: 10GiB }').nullish(),
  }, 'a mapping'),
  defaults: obj({
    replication: ReplicationFile.nullish(),
    timeout: opt(positiveDuration),
    connect_timeout: opt(positiveDuration),
    concurrency: opt(posInt),
    min_free_space: opt(size),
    health: obj({
      interval: opt(positiveDuration),
      timeout: opt(positiveDuration),
      failures: opt(posInt),
    }, 'a mapping like { interval: 5s, timeout: 2s, failures: 2 }').nullish(),
  }, 'a mapping').nullish(),
  members: list(MemberFileSchema, 'members').min(1, 'list at least one member'),
  placement: list(PlacementRuleFileSchema, 'placement rules').nullish(),
  passthrough: opt(name),
}, 'a mapping with version, hub and members')

export type TopologyFile = z.output<typeof TopologyFileSchema>
type ReplicationFile = z.output<typeof ReplicationFile>

/** Keys each strict mapping accepts, by the mapping's path with list indexes dropped; used for "did you mean" hints. */
export function knownKeys (schema: z.ZodType = TopologyFileSchema): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const walk = (s: z.ZodType, at: string): void => {
    const def = (s as { def?: { type?: string, innerType?: z.ZodType, element?: z.ZodType, shape?: Record<string, z.ZodType> } }).def
    if (def === undefined) return
    if (def.type === 'optional' || def.type === 'nullable') return walk(def.innerType as z.ZodType, at)
    if (def.type === 'array') return walk(def.element as z.ZodType, at)
    if (def.type === 'object' && def.shape !== undefined) {
      out.set(at, Object.keys(def.shape))
      for (const [k, v] of Object.entries(def.shape)) walk(v, at === '' ? k : `${at}.${k}`)
    }
  }
  walk(schema, '')
  return out
}

// ---------------------------------------------------------------------------------------
// Normalisation (only ever called on a file that passed every check)
// ---------------------------------------------------------------------------------------

export const DEFAULTS = {
  replication: { min: 1, max: 1 },
  timeoutMs: 60_000,
  connectTimeoutMs: 5_000,
  concurrency: 16,
  health: { intervalMs: 5_000, timeoutMs: 2_000, failures: 2 },
  maxDepth: 8,
  shutdownTimeoutMs: 10_000,
  reconcile: { intervalMs: 60_000, graceMs: 300_000, retryBaseMs: 1_000, retryMaxMs: 300_000 },
  rebalance: { rate: 100, drainTimeoutMs: 3_600_000 },
} as const

/** Request limits of a hub whose topology sets none (README: hub.limits). */
export const DEFAULT_LIMITS: LimitsSpec = {
  maxAddBytes: 0,
  maxHeaderBytes: 16 * 1024,
  maxArgs: 1024,
  maxConcurrentPerClient: 256,
  headersTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
}

/** The hub's limits, defaults applied. */
/** Which store `hub.state` names: `:memory:`, a postgres:// URL, or else an SQLite directory. */
export function stateBackendOf (state: string): HubSpec['stateBackend'] {
  return state === ':memory:' ? 'memory' : /^postgres(ql)?:\/\//i.test(state) ? 'postgres' : 'sqlite'
}

/**
 * The members a pin may be placed on: not draining, and among `allowed` (a placement
 * rule's members) when given. Placement and `topology show`'s copies both ask this.
 */
export function placeableMembers (t: Pick<Topology, 'members'>, allowed?: ReadonlySet<string>): MemberSpec[] {
  return t.members.filter(m => !m.drain && (allowed === undefined || allowed.has(m.name)))
}

export function limitsOf (hub: Pick<HubSpec, 'limits'>): LimitsSpec {
  return hub.limits ?? DEFAULT_LIMITS
}

/** A replication block: `min` defaults to 1, `max` to `min`. */
export function replicationOf (r: ReplicationFile | null | undefined, fallback: Replication): Replication {
  if (r == null) return { ...fallback }
  const min = r.min ?? 1
  return { min, max: r.max ?? min }
}

/** Apply defaults and resolve references. */
export function normaliseTopology (file: TopologyFile): Topology {
  const d = file.defaults ?? undefined
  const health = d?.health ?? undefined
  const defaults: Defaults = {
    replication: replicationOf(d?.replication, DEFAULTS.replication),
    timeoutMs: d?.timeout ?? DEFAULTS.timeoutMs,
    connectTimeoutMs: d?.connect_timeout ?? DEFAULTS.connectTimeoutMs,
    concurrency: d?.concurrency ?? DEFAULTS.concurrency,
    minFreeSpace: d?.min_free_space ?? 0,
    health: {
      intervalMs: health?.interval ?? DEFAULTS.health.intervalMs,
      timeoutMs: health?.timeout ?? DEFAULTS.health.timeoutMs,
      failures: health?.failures ?? DEFAULTS.health.failures,
    },
  }
  const state = file.hub.state ?? `.supercluster/${file.hub.id}`
  const hub: HubSpec = {
    id: file.hub.id,
    listen: file.hub.listen ?? DEFAULT_LISTEN,
    state,
    stateBackend: stateBackendOf(state),
    maxDepth: file.hub.max_depth ?? DEFAULTS.maxDepth,
    shutdownTimeoutMs: file.hub.shutdown_timeout ?? DEFAULTS.shutdownTimeoutMs,
    apiOrigins: file.hub.api_origins ?? [],
    reconcile: {
      intervalMs: file.hub.reconcile?.interval ?? DEFAULTS.reconcile.intervalMs,
      graceMs: file.hub.reconcile?.grace ?? DEFAULTS.reconcile.graceMs,
      retryBaseMs: file.hub.reconcile?.retry_base ?? DEFAULTS.reconcile.retryBaseMs,
      retryMaxMs: file.hub.reconcile?.retry_max ?? DEFAULTS.reconcile.retryMaxMs,
    },
    rebalance: {
      rate: file.hub.rebalance?.rate ?? DEFAULTS.rebalance.rate,
      drainTimeoutMs: file.hub.rebalance?.drain_timeout ?? DEFAULTS.rebalance.drainTimeoutMs,
    },
  }
  if (file.hub.auth != null) {
    hub.auth = file.hub.auth.map((a, i) => ({
      name: a.name ?? `auth[${i}]`,
      scheme: a.basic != null ? 'basic' : 'bearer',
      ...(a.basic != null ? { user: a.basic.user } : {}),
      secret: a.basic?.password ?? a.bearer ?? '',
      role: a.role,
    }))
  }
  if (file.hub.tls != null) hub.tls = { certFile: file.hub.tls.cert, keyFile: file.hub.tls.key }
  if (file.hub.gateway != null) hub.gateway = { listen: file.hub.gateway.listen, fetchFromNetwork: file.hub.gateway.fetch_from_network ?? false }
  const l = file.hub.limits
  if (l != null) {
    hub.limits = {
      maxAddBytes: l.max_add_bytes ?? DEFAULT_LIMITS.maxAddBytes,
      maxHeaderBytes: l.max_header_bytes ?? DEFAULT_LIMITS.maxHeaderBytes,
      maxArgs: l.max_args ?? DEFAULT_LIMITS.maxArgs,
      maxConcurrentPerClient: l.max_concurrent_per_client ?? DEFAULT_LIMITS.maxConcurrentPerClient,
      headersTimeoutMs: l.headers_timeout ?? DEFAULT_LIMITS.headersTimeoutMs,
      bodyIdleTimeoutMs: l.body_idle_timeout ?? DEFAULT_LIMITS.bodyIdleTimeoutMs,
    }
  }
  const members: MemberSpec[] = file.members.map(m => {
    const spec: MemberSpec = {
      name: m.name,
      kind: m.kind,
      urls: m.kind === 'embedded' ? [`http://${m.listen ?? ''}`] : m.urls ?? (m.url !== undefined ? [m.url] : []),
      tags: m.tags ?? {},
      weight: m.weight ?? 1,
      concurrency: m.concurrency ?? defaults.concurrency,
      minFreeSpace: m.min_free_space ?? defaults.minFreeSpace,
      timeoutMs: m.timeout ?? defaults.timeoutMs,
      connectTimeoutMs: m.connect_timeout ?? defaults.connectTimeoutMs,
      headers: m.headers ?? {},
      drain: m.drain ?? false,
    }
    if (m.rest_api !== undefined) spec.restApi = m.rest_api
    if (m.basic_auth != null) spec.basicAuth = { user: m.basic_auth.user, password: m.basic_auth.password }
    if (m.ca_file !== undefined) spec.caFile = m.ca_file
    if (m.kind === 'embedded') { spec.listen = m.listen; spec.repo = m.repo }
    return spec
  })
  const placement: PlacementRule[] = (file.placement ?? []).map(r => {
    const select: PlacementRule['members'] = { tags: r.members?.tags ?? {} }
    if (r.members?.names != null) select.names = r.members.names
    const rule: PlacementRule = {
      match: r.match?.name !== undefined ? { name: r.match.name } : {},
      members: select,
      memberNames: selectMembers(members, select).map(m => m.name),
      replication: replicationOf(r.replication, defaults.replication),
    }
    return rule
  })
  const passthrough = file.passthrough ?? (members.find(m => m.kind !== 'embedded') ?? members[0]).name
  return { version: 1, hub, defaults, members, placement, passthrough }
}
