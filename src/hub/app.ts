/**
 * @module hub/app
 * The hub's HTTP surface: the Kubo RPC API under `/api/v0/`, `/metrics` for Prometheus,
 * a small admin API under `/supercluster/v1/`, and the live status page at
 * `/supercluster/ui`. Everything outside those answers Kubo's plain 404. Requests to
 * both APIs pass the via-chain check first (`hub/via`). Every request gets a scope: its
 * id (the client's `X-Request-Id`, echoed back, or a new one), which log lines and member
 * requests made for it carry, and its via chain.
 */
import type { ServerResponse } from 'node:http'
import { Hono, type Context } from 'hono'
import { anySignal } from 'any-signal'
import { createKuboApp } from '../kubo/transport.js'
import { clientConcurrency } from '../kubo/limits.js'
import { Authenticator } from '../auth/credentials.js'
import { limitsOf, redactTopology, redactUrl } from '../topology/index.js'
import { errorMessage } from '../errors.js'
import { BREAKER_STATE_VALUE, outcomeOf } from '../metrics.js'
import { BACKGROUND, REQUEST_ID_HEADER, logFields, requestIdFrom, type RequestScope } from '../request-context.js'
import type { HubComponents } from './components.js'
import type { AllocationStatus } from '../state/store.js'
import type { StatusReport } from './status-report.js'
import { hubCommands, passthroughRaw } from './commands.js'
import { importPins } from './import.js'
import { pinReport } from './pin-status.js'
import { VIA_HEADER, parseVia } from './via.js'
import { ReplicationCensus } from './census.js'
import { statusPage, STATUS_PAGE_HEADERS } from './ui.js'
import { createHubAuth } from './auth.js'

export interface HubAppOptions {
  apiPort: () => number
  /** hub.auth's credentials (default: built from the topology). */
  auth?: Authenticator
}

export function createHubApp (h: HubComponents, opts: HubAppOptions): Hono {
  const app = new Hono()
  const census = new ReplicationCensus(h.store)
  const scopes = new WeakMap<Request, RequestScope>()
  const scopeOf = (c: Context): RequestScope => scopes.get(c.req.raw) ?? BACKGROUND
  app.use('*', async function requestScope (c, next) {
    const supplied = c.req.header(REQUEST_ID_HEADER)
    const id = requestIdFrom(supplied)
    // Echoed only when the client chose it: otherwise the answer keeps Kubo's headers exactly.
    if (id === supplied) (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing?.setHeader('X-Request-Id', id)
    scopes.set(c.req.raw, { id, via: parseVia(c.req.header(VIA_HEADER)) })
    await next()
  })
  // Before any route: requests over the per-client limit, then unauthenticated ones, stop here.
  const limits = limitsOf(h.topology.hub)
  const auth = createHubAuth(opts.auth ?? new Authenticator(h.topology.hub.auth))
  // Registered only when they can refuse something (decided once, not per request).
  if (limits.maxConcurrentPerClient > 0) app.use('*', clientConcurrency(limits.maxConcurrentPerClient))
  if (auth.middleware !== undefined) app.use('*', auth.middleware)
  // Routes outside /api/v0 first; the Kubo API is registered on the same app (a nested
  // app would route and build a context twice per request).
  app.get('/metrics', async (c) => {
    await refreshGauges(h, census)
    return c.body(await h.metrics.registry.metrics(), 200, { 'Content-Type': h.metrics.registry.contentType })
  })
  // The admin API refuses loops like the Kubo API does (a hub asks the hubs below it).
  app.use('/supercluster/v1/*', async function via (c, next) {
    h.via.admit(scopeOf(c).via)
    await next()
  })
  app.get('/supercluster/v1/status', async (c) => c.json(await statusReport(h, census)))
  app.get('/supercluster/ui', async (c) => c.html(statusPage(await statusReport(h, census)), 200, STATUS_PAGE_HEADERS))
  // The running topology, secrets redacted (what `topology show` reads from lower hubs).
  app.get('/supercluster/v1/topology', (c) => c.json(redactTopology(h.topology)))
  // One pin: the desired record, its allocations as the store has them, and (unless
  // `?live=false`) what each allocated member says right now; cluster members with a REST
  // API answer for their peers, so "pinned" there means pinned, not accepted; hubs below
  // this one add their own report, nested.
  app.get('/supercluster/v1/pins/:cid', async (c) => {
    const cid = c.req.param('cid')
    const signal = anySignal([c.req.raw.signal, h.shutdown, AbortSignal.timeout(10_000)])
    try {
      const report = await pinReport(h, cid, { live: c.req.query('live') !== 'false', signal, scope: scopeOf(c) })
      if (report === undefined) return c.json({ Message: `path '${cid}' is not pinned`, Code: 0, Type: 'error' }, 404)
      return c.json(report)
    } finally {
      signal.clear()
    }
  })
  // Adopt the pins a member holds that the hub does not know (`supercluster pins import`).
  // NDJSON progress lines while the member's listing streams, then a summary.
  app.post('/supercluster/v1/import', async (c) => {
    const name = c.req.query('member') ?? ''
    const m = h.members.get(name)
    if (m === undefined) return c.json({ Message: `no member named "${name}" in the topology`, Code: 1, Type: 'error' }, 400)
    const signal = anySignal([c.req.raw.signal, h.shutdown])
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>({
      async start (controller) {
        const line = (v: unknown): void => { controller.enqueue(encoder.encode(JSON.stringify(v) + '\n')) }
        try {
          let last = 0
          const result = await importPins(h, m, { signal, scope: scopeOf(c) }, (p) => {
            if (Date.now() - last > 200) { last = Date.now(); line(p) }
          })
          line({ ...result, Done: true })
        } catch (err) {
          line({ Message: errorMessage(err), Type: 'error' })
        } finally {
          signal.clear()
          controller.close()
        }
      },
    })
    return new Response(body, { headers: { 'Content-Type': 'application/x-ndjson' } })
  })
  return createKuboApp({
    commands: hubCommands(h),
    apiPort: opts.apiPort,
    allowedOrigins: h.topology.hub.apiOrigins,
    fallback: async (raw) => await passthroughRaw(raw, h),
    shutdownSignal: h.shutdown,
    observe: (command, status, seconds, scope) => {
      h.metrics.hubRequests.labels(command, outcomeOf(status)).inc()
      h.metrics.hubRequestDuration.labels(command).observe(seconds)
      if (h.log.isLevelEnabled('debug')) h.log.debug({ ...logFields(scope), command, status, ms: Math.round(seconds * 10_000) / 10 }, 'request')
    },
    onError: (err, command, scope) => {
      h.log.warn({ ...logFields(scope), command, err: errorMessage(err) }, 'command failed')
      h.recentErrors.add({ kind: 'request', command, message: errorMessage(err) })
    },
    scopeOf,
    admit: (scope) => { h.via.admit(scope.via) },
    authorize: auth.authorize,
    limits: { maxBodyBytes: limits.maxAddBytes, bodyIdleTimeoutMs: limits.bodyIdleTimeoutMs, maxArgs: limits.maxArgs },
  }, app)
}

async function refreshGauges (h: HubComponents, census: ReplicationCensus): Promise<void> {
  const [counts, pending, short] = await Promise.all([allocationCounts(h), h.store.pendingSummary(), census.underReplicated()])
  h.metrics.memberPins.reset()
  for (const row of counts) h.metrics.memberPins.labels(row.member, row.status).set(row.count)
  h.metrics.intentsPending.set(pending.count)
  h.metrics.intentOldestAge.set(ageSeconds(pending.oldestSince))
  if (short !== undefined) h.metrics.pinsUnderReplicated.set(short)
  for (const m of h.members.values()) {
    const health = h.monitor.health(m.name)
    h.metrics.memberUp.labels(m.name).set(h.monitor.isUp(m.name) ? 1 : 0)
    if (health !== undefined) h.metrics.memberBreakerState.labels(m.name).set(BREAKER_STATE_VALUE[health.breaker])
    if (health?.latency !== undefined) h.metrics.memberLatency.labels(m.name).set(health.latency)
    if (health?.storageMax !== undefined) h.metrics.memberStorageMax.labels(m.name).set(Number(health.storageMax))
    const free = h.monitor.freeSpace(m.name)
    if (free !== undefined) h.metrics.memberFreeBytes.labels(m.name).set(Number(free))
    h.metrics.memberQueueDepth.labels(m.name).set(h.pins.queueDepth(m.name))
  }
}

/**
 * Allocations per member and status, with the pins being driven right now counted as
 * `pinning`: the store keeps them `queued` (or `error`, on a retry) until they are pinned.
 */
async function allocationCounts (h: HubComponents): Promise<Array<{ member: string, status: AllocationStatus, count: number }>> {
  const counts = new Map<string, Map<AllocationStatus, number>>()
  const add = (member: string, status: AllocationStatus, n: number): void => {
    const of = counts.get(member) ?? new Map<AllocationStatus, number>()
    of.set(status, (of.get(status) ?? 0) + n)
    counts.set(member, of)
  }
  for (const row of await h.store.countsByMember()) add(row.member, row.status, row.count)
  for (const [member, of] of counts) {
    let busy = h.pins.pinningOn(member)
    for (const status of ['queued', 'error'] as const) {
      const moved = Math.min(of.get(status) ?? 0, busy)
      busy -= moved
      add(member, status, -moved)
      add(member, 'pinning', moved)
    }
  }
  return [...counts].flatMap(([member, of]) => [...of].filter(([, n]) => n > 0).map(([status, count]) => ({ member, status, count })))
}

function ageSeconds (since: number | undefined): number {
  return since === undefined ? 0 : Math.max(0, (Date.now() - since) / 1000)
}

/**
 * What `supercluster status` prints and the status page shows: each member's health,
 * space, pins and queue (members a reload removed are listed while their pins move
 * away), the topology generation, the balancing run's progress, the store's backlog, and
 * the last errors.
 */
export async function statusReport (h: HubComponents, census: ReplicationCensus): Promise<StatusReport> {
  const [rows, pending, short] = await Promise.all([allocationCounts(h), h.store.pendingSummary(), census.underReplicated()])
  const counts = new Map<string, Record<string, number>>()
  for (const row of rows) {
    const c = counts.get(row.member) ?? {}
    c[row.status] = row.count
    counts.set(row.member, c)
  }
  return {
    hub: { id: h.topology.hub.id, peerId: h.identity.id },
    topology: { generation: h.generation },
    rebalance: { ...h.rebalance },
    intents: { pending: pending.count, oldestAgeSeconds: Math.round(ageSeconds(pending.oldestSince)) },
    underReplicated: short,
    recentErrors: h.recentErrors.list(),
    members: [...h.members.values(), ...h.retiring.values()].map(m => {
      const health = h.monitor.health(m.name)
      return {
        name: m.name,
        kind: m.kind,
        drain: m.spec.drain,
        removed: h.retiring.get(m.name) === m,
        urls: m.urls.map(redactUrl),
        up: h.monitor.isUp(m.name),
        breaker: health?.breaker,
        acceptsPins: h.monitor.canTakePins(m.name),
        lastError: health?.lastError,
        latencyMs: health?.latency !== undefined ? Math.round(health.latency * 1000 * 10) / 10 : undefined,
        repoSize: health?.repoSize?.toString(),
        storageMax: health?.storageMax?.toString(),
        pins: counts.get(m.name) ?? {},
        queueDepth: h.pins.queueDepth(m.name),
      }
    }),
  }
}
