/**
 * @module hub/start
 * Builds a running hub from a validated topology: the only place that constructs the
 * concrete member clients, monitor, placement, store and pin service, and the HTTP
 * server; a reload (`hub/reload`) gets its clients and placement from the builders here.
 * Shutdown stops accepting, lets in-flight requests finish up to the deadline, then
 * aborts what is left and closes pools and the store.
 */
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import { MemberClient } from '../members/client.js'
import { HealthMonitor } from '../members/monitor.js'
import { Placement } from '../placement/placement.js'
import { PostgresPinStore } from '../state/postgres.js'
import { SqlitePinStore } from '../state/sqlite.js'
import { Reconciler } from './reconciler.js'
import type { PinStore } from '../state/store.js'
import { createMetrics, type Metrics } from '../metrics.js'
import type { Logger } from '../log.js'
import { loadIdentity, makeIdentity } from '../identity.js'
import { limitsOf, parseHostPort, type Topology } from '../topology/index.js'
import { createGatewayApp } from '../gateway/app.js'
import { listen } from './listen.js'
import type { HubComponents } from './components.js'
import { PinService } from './pins.js'
import { createHubApp } from './app.js'
import { ViaChain } from './via.js'
import { applyTopology, type ReloadFactory, type TopologyChange } from './reload.js'
import { RecentErrors } from './recent-errors.js'
import { errorMessage } from '../errors.js'

export interface RunningHub {
  url: string
  port: number
  components: HubComponents
  /**
   * Apply a new validated topology (see `hub/reload`) and start moving pins for it.
   * @throws TopologyRefusedError when a setting that needs a restart changed.
   */
  reload: (next: Topology) => TopologyChange
  close: () => Promise<void>
  /** The public gateway's URL, when hub.gateway is set. */
  gatewayUrl?: string
  /** Read hub.tls's certificate and key again and serve them (for a topology reload). */
  reloadTls: () => Promise<void>
}

export interface StartHubOptions {
  log: Logger
  metrics?: Metrics
  /** Override the listen port (0 = ephemeral), e.g. in tests. */
  port?: number
  /** Defaults to the store hub.state names: SQLite under a directory, or a postgres:// URL. */
  store?: PinStore
  /** Largest request header block; more gets 431 (default hub.limits.max_header_bytes). */
  maxHeaderSize?: number
  /** Override the gateway's port (0 = ephemeral), e.g. in tests. */
  gatewayPort?: number
}

/** Builds every component of a hub; the caller owns `dispose`. */
export async function createHubComponents (topology: Topology, opts: StartHubOptions): Promise<{ components: HubComponents, factory: ReloadFactory, shutdown: AbortController, dispose: () => Promise<void> }> {
  const { log } = opts
  const metrics = opts.metrics ?? createMetrics()
  const shutdown = new AbortController()
  // Every request and background task in flight listens to it: hundreds at once is normal.
  setMaxListeners(0, shutdown.signal)

  // hub.max_depth may change with a reload; hub.id cannot.
  const via = new ViaChain({
    hub: () => components.topology.hub,
    onReject: (reason) => { metrics.loopRejections.labels(reason).inc() },
  })
  const recentErrors = new RecentErrors()
  let monitor: HealthMonitor | undefined
  const factory: ReloadFactory = {
    client: (spec) => new MemberClient(spec, {
      viaHeader: (scope) => via.outbound(scope),
      observe: (member, command, outcome, seconds) => {
        metrics.memberRequests.labels(member, command, outcome).inc()
        metrics.memberRequestDuration.labels(member, command).observe(seconds)
        if (outcome === 'error') metrics.memberErrors.labels(member, command).inc()
      },
      onTransport: (member, ok, err) => {
        monitor?.report(member, ok, err)
        if (!ok) recentErrors.add({ kind: 'member', member, message: err === undefined ? 'unreachable' : errorMessage(err) })
      },
    }),
    placement: (t) => new Placement(t, (name, size) => monitor?.canTakePins(name, size) === true),
  }
  const members = new Map(topology.members.map(spec => [spec.name, factory.client(spec)]))
  monitor = new HealthMonitor([...members.values()], topology.defaults.health)
  monitor.onChange(({ member, from, to, error }) => {
    if (to === 'open') {
      log.warn({ member, from, err: error }, 'member down: breaker open')
      recentErrors.add({ kind: 'breaker', member, message: `breaker open${error !== undefined ? `: ${error}` : ''}` })
    } else if (to === 'closed') {
      log.info({ member, from }, 'member up: breaker closed')
    } else {
      log.debug({ member, from }, 'member on trial: breaker half-open')
    }
  })
  const store = opts.store ?? await openStore(topology, log)
  // With a postgres:// state the URL is no directory: the identity stays local, per hub.
  // A `:memory:` hub keeps nothing, not even its peer ID.
  const identity = topology.hub.stateBackend === 'memory'
    ? makeIdentity()
    : await loadIdentity(topology.hub.stateBackend === 'postgres' ? join('.supercluster', topology.hub.id) : topology.hub.state)
  const base = {
    topology,
    members,
    retiring: new Map<string, MemberClient>(),
    monitor,
    placement: factory.placement(topology),
    store,
    metrics,
    log,
    identity,
    via,
    recentErrors,
    generation: 1,
    rebalance: { running: false, total: 0, done: 0, pending: 0 },
    shutdown: shutdown.signal,
  }
  // The pin service reads members and placement from this same object, so it sees reloads.
  const components: HubComponents = Object.assign(base, { pins: new PinService(base) })
  metrics.topologyGeneration.set(1)
  const dispose = async (): Promise<void> => {
    components.monitor.stop()
    shutdown.abort(new Error('hub shutting down'))
    await Promise.all([...components.members.values(), ...components.retiring.values()].map(async m => { await m.destroy() }))
    await store.close()
  }
  return { components, factory, shutdown, dispose }
}

/**
 * The pinset store hub.state names: PostgreSQL (connected and migrated) for a URL,
 * `:memory:` for a pinset that dies with the process (benchmarks, throwaway hubs), else
 * SQLite in the directory.
 */
async function openStore (topology: Topology, log: Logger): Promise<PinStore> {
  if (topology.hub.stateBackend === 'memory') return new SqlitePinStore(':memory:')
  if (topology.hub.stateBackend === 'postgres') {
    return await PostgresPinStore.open(topology.hub.state, {
      onConnectionError: (err) => { log.warn({ err }, 'PostgreSQL connection lost; the pool reconnects') },
    })
  }
  return new SqlitePinStore(join(topology.hub.state, 'pins.sqlite'))
}

export async function startHub (topology: Topology, opts: StartHubOptions): Promise<RunningHub> {
  const { log } = opts
  const { components, factory, dispose } = await createHubComponents(topology, opts)
  const { monitor, pins } = components

  const { host, port: configuredPort } = parseHostPort(topology.hub.listen)
  let boundPort = 0
  const app = createHubApp(components, { apiPort: () => boundPort })
  const limits = { ...limitsOf(topology.hub), ...(opts.maxHeaderSize !== undefined ? { maxHeaderBytes: opts.maxHeaderSize } : {}) }
  const api = await listen({ fetch: app.fetch, host, port: opts.port ?? configuredPort, limits, tls: topology.hub.tls })
    .catch(async (err: unknown) => { await dispose(); throw err })
  boundPort = api.port
  const gatewaySpec = topology.hub.gateway
  const gateway = gatewaySpec === undefined
    ? undefined
    : await listen({ fetch: createGatewayApp(components, gatewaySpec).fetch, ...gatewayAddress(gatewaySpec.listen, opts.gatewayPort), limits, tls: topology.hub.tls })
      .catch(async (err: unknown) => { api.server.close(); await dispose(); throw err })
  const server = api.server
  const url = api.url
  if ((topology.hub.auth?.length ?? 0) === 0) log.warn({ url }, 'hub.auth lists no credentials: the API is open to every local process (loopback only)')
  monitor.start()
  // Whatever a previous run (or a crashed hub) left half done is still an intent in the
  // store; the reconciler drives it, on one hub at a time.
  const reconciler = new Reconciler(components)
  await reconciler.start()
  log.info({ hub: topology.hub.id, url, gateway: gateway?.url, members: topology.members.length }, 'hub listening')

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      monitor.stop()
      const servers = gateway === undefined ? [server] : [server, gateway.server]
      const stopped = Promise.all(servers.map(async srv => { await new Promise<void>(resolve => { srv.close(() => { resolve() }) }) }))
      for (const srv of servers) srv.closeIdleConnections()
      const deadline = new Promise<void>(resolve => setTimeout(resolve, components.topology.hub.shutdownTimeoutMs).unref())
      await Promise.race([Promise.all([stopped, pins.idle()]), deadline])
      await reconciler.stop()
      for (const srv of servers) srv.closeAllConnections()
      await dispose()
      log.info({ hub: topology.hub.id }, 'hub stopped')
    })()
    await closing
  }
  const reload = (next: Topology): TopologyChange => {
    const change = applyTopology(components, next, factory)
    reconciler.topologyChanged(change.previousPlacement)
    return change
  }
  const reloadTls = async (): Promise<void> => {
    await Promise.all([api.reloadTls(), gateway?.reloadTls()])
  }
  return { url, port: boundPort, components, reload, close, reloadTls, ...(gateway !== undefined ? { gatewayUrl: gateway.url } : {}) }
}

function gatewayAddress (listen: string, portOverride?: number): { host: string, port: number } {
  const { host, port } = parseHostPort(listen)
  return { host, port: portOverride ?? port }
}
