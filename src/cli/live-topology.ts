/**
 * @module cli/live-topology
 * The daemon's side of live topology edits. The file watch (`topology/watch`: settled,
 * changed content only) and SIGHUP (the file as it is now) both lead to one serialised
 * reload: validate; refuse settings that need a restart; start the embedded members the
 * new topology adds; apply it to the hub (`hub/reload`); stop embedded members once the
 * hub retired them. A bad file never replaces the running topology: the problems are
 * logged as `file:line:col path: message` and counted in
 * `supercluster_topology_reloads_total{result="invalid"|"refused"}`.
 */
import { contentHash, parseHostPort, parseTopology, readTopologyText, watchTopologyFile, type Topology } from '../topology/index.js'
import { TopologyError, errorMessage } from '../errors.js'
import { unreloadable } from '../hub/reload.js'
import type { RunningHub } from '../hub/start.js'
import type { Logger } from '../log.js'
import { startEmbeddedServer, type RunningEmbedded } from '../embedded/server.js'

/** The embedded members a daemon runs itself, by member name. */
export class EmbeddedMembers {
  private readonly running = new Map<string, RunningEmbedded>()
  private readonly log: Logger

  constructor (log: Logger) {
    this.log = log
  }

  /** Start the embedded members of `topology` that are not running yet; returns their names. */
  async start (topology: Topology): Promise<string[]> {
    const started: string[] = []
    for (const m of topology.members) {
      if (m.kind !== 'embedded' || m.listen === undefined || m.repo === undefined || this.running.has(m.name)) continue
      const { host, port } = parseHostPort(m.listen)
      this.running.set(m.name, await startEmbeddedServer({ host, port, repo: m.repo, log: this.log.child({ member: m.name }) }))
      started.push(m.name)
    }
    return started
  }

  /** Stop the running embedded members that `topology` does not declare as embedded. */
  async prune (topology: Topology): Promise<void> {
    const wanted = new Set(topology.members.filter(m => m.kind === 'embedded').map(m => m.name))
    await Promise.allSettled([...this.running].filter(([name]) => !wanted.has(name)).map(async ([name, e]) => {
      this.running.delete(name)
      await e.close()
    }))
  }

  async close (): Promise<void> {
    await Promise.allSettled([...this.running.values()].map(async e => { await e.close() }))
    this.running.clear()
  }
}

export interface LiveTopologyOptions {
  file: string
  /** The text the hub started from. */
  text: string
  hub: RunningHub
  embedded: EmbeddedMembers
  log: Logger
  /** Watch the file (else only SIGHUP reloads). */
  watch: boolean
  settleMs: number
}

export type ReloadResult = 'ok' | 'invalid' | 'refused' | 'unchanged'

/** Watch and SIGHUP until the returned function is called. */
export function startLiveTopology (opts: LiveTopologyOptions): () => void {
  const { file, hub, embedded, log } = opts
  const metrics = hub.components.metrics
  let runningHash = contentHash(opts.text)
  let queue = Promise.resolve()
  const stop = new AbortController()

  // `known`: the text's hash when the caller already has it (the watcher computed it).
  const reload = async (read: () => Promise<string>, source: 'watch' | 'SIGHUP', known?: string): Promise<ReloadResult> => {
    const fail = (result: 'invalid' | 'refused', problems: string[]): ReloadResult => {
      metrics.topologyReloads.labels(result).inc()
      log.error({ file, source, problems }, `topology not applied (${result}), the running one stays: ${problems.join('; ')}`)
      return result
    }
    let hash = ''
    let next: Topology
    try {
      const text = await read()
      hash = known ?? contentHash(text)
      if (hash === runningHash) {
        log.info({ file, source }, 'topology unchanged')
        return 'unchanged'
      }
      next = parseTopology(text, file)
    } catch (err) {
      if (err instanceof TopologyError) return fail('invalid', err.problems)
      throw err
    }
    const refused = unreloadable(hub.components.topology, next)
    if (refused.length > 0) return fail('refused', refused.map(p => `${file}: ${p}`))
    const started = await embedded.start(next).catch((err: unknown) => errorMessage(err))
    if (typeof started === 'string') {
      await embedded.prune(hub.components.topology)
      return fail('refused', [`${file}: cannot start an embedded member: ${started}`])
    }
    const change = hub.reload(next)
    runningHash = hash
    metrics.topologyReloads.labels('ok').inc()
    log.info({ file, source, generation: change.generation, added: change.added, removed: change.removed, changed: change.changed, started }, 'topology reloaded')
    void change.retired.then(async () => { await embedded.prune(hub.components.topology) })
    return 'ok'
  }
  const enqueue = (read: () => Promise<string>, source: 'watch' | 'SIGHUP', known?: string): Promise<void> => {
    queue = queue.then(async () => {
      if (stop.signal.aborted) return
      const result = await reload(read, source, known)
      // Certificates are rotated in place: SIGHUP (and any applied edit) reads hub.tls's
      // files again; a pair that does not load leaves the running one serving.
      if (hub.components.topology.hub.tls !== undefined && (source === 'SIGHUP' || result === 'ok')) {
        await hub.reloadTls().then(
          () => { log.info({ file, source }, 'TLS certificate and key read again') },
          (err: unknown) => { log.error({ file, source, err: errorMessage(err) }, 'TLS certificate or key not reloaded; the running ones stay') })
      }
    }).catch((err: unknown) => { log.error({ file, source, err: errorMessage(err) }, 'topology reload failed') })
    return queue
  }

  if (opts.watch) {
    watchTopologyFile(file, {
      settleMs: opts.settleMs,
      initialHash: runningHash,
      onChange: async (text, hash) => { await enqueue(async () => text, 'watch', hash) },
      onError: (err) => { log.warn({ file, err: errorMessage(err) }, 'watching the topology file') },
      signal: stop.signal,
    })
  }
  const onHup = (): void => { void enqueue(async () => await readTopologyText(file), 'SIGHUP') }
  process.on('SIGHUP', onHup)
  return () => {
    stop.abort()
    process.off('SIGHUP', onHup)
  }
}
