/**
 * @module hub/pins
 * Drives pins to members. A pin's intent is written to the store before any member is
 * asked; each member's work runs through that member's queue; the caller is answered as
 * soon as `replication.min` members acknowledged, while the rest carry on in the
 * background. A member that lacks the content gets it copied from a member that has it
 * (`dag/export` streamed into `dag/import`), because members need not share a network.
 * Members, placement and retiring members are read from the components at each use, so
 * a topology reload is seen by the next task; a removed member's client stays reachable
 * (`retiring`) while its pins are moved off it.
 */
import PQueue from 'p-queue'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MemberClient } from '../members/client.js'
import { discard, readText } from '../members/client.js'
import { liveStatus } from '../members/live-status.js'
import type { HealthMonitor } from '../members/monitor.js'
import type { Placement } from '../placement/placement.js'
import type { PinMode, PinRecord, PinStore } from '../state/store.js'
import type { Replication } from '../topology/index.js'
import type { Logger } from '../log.js'
import { CommandError, NotEnoughReplicasError, NotPinnedError, UpstreamError, errorMessage, isLoopRefusal } from '../errors.js'
import { multipartFile } from './multipart.js'
import { logFields, type RequestScope } from '../request-context.js'
import { memberClient } from './components.js'
import { Counts } from '../counts.js'

export interface PinOptions {
  mode: PinMode
  name?: string
  metadata?: Record<string, string>
  replication?: Partial<Replication>
  signal: AbortSignal
  /** The request the pin is for; its copies finishing after the answer still carry it. */
  scope: RequestScope
}

export interface PinServiceComponents {
  members: Map<string, MemberClient>
  retiring: Map<string, MemberClient>
  monitor: HealthMonitor
  placement: Placement
  store: PinStore
  log: Logger
  /** Aborts background work at shutdown. */
  shutdown: AbortSignal
}

/** Member answers that mean "there is nothing to unpin here" (Kubo's and the cluster proxy's wording). */
export function isNotPinnedAnswer (err: unknown): boolean {
  const m = errorMessage(err)
  return /not pinned|pin is not part of the pinset|is not pinned/i.test(m)
}

/** Member answers that mean "I do not have the blocks and cannot fetch them". */
export function isMissingContent (err: unknown): boolean {
  return /could not find|not found|no link named|block was not found|failed to fetch/i.test(errorMessage(err)) && !isNotPinnedAnswer(err)
}

/** The pin was removed while a member was pinning it; that member has been unpinned again. */
class PinWithdrawnError extends CommandError {
  constructor (cid: string) { super(`${cid} was unpinned while it was being pinned`) }
}

export class PinService {
  private readonly c: PinServiceComponents
  private readonly queues = new Map<string, PQueue>()
  /** Member tasks with their bookkeeping, so `idle()` also waits for the store writes after them. */
  private readonly tasks = new Set<Promise<unknown>>()
  /** `<cid> <member>` of every member task queued or under way, with how many. */
  private readonly inFlight = new Counts<string>()
  /** Pins under way per member: the allocations in the store still say `queued`. */
  private readonly pinning = new Counts<string>()

  /** The work of every pin under way, aborted together at shutdown (one listener, not one per pin). */
  private readonly working = new Set<AbortController>()

  constructor (components: PinServiceComponents) {
    this.c = components
    components.shutdown.addEventListener('abort', () => {
      for (const w of this.working) w.abort(components.shutdown.reason)
    }, { once: true })
  }

  queue (member: string): PQueue {
    let q = this.queues.get(member)
    if (q === undefined) {
      // The queue-depth gauge is read from `queueDepth` at scrape time, not per task.
      q = new PQueue({ concurrency: memberClient(this.c, member)?.spec.concurrency ?? 16 })
      this.queues.set(member, q)
    }
    return q
  }

  /** Run `task` in the member's queue. */
  async enqueue<T> (member: string, task: () => Promise<T>, opts: { signal: AbortSignal }): Promise<T> {
    return await this.queue(member).add(task, { signal: opts.signal })
  }

  /** A reload changed the member's concurrency: its queue runs that many tasks from now on. */
  resize (member: string, concurrency: number): void {
    const q = this.queues.get(member)
    if (q !== undefined) q.concurrency = concurrency
  }

  /** A retired member's queue goes once it is empty. */
  forget (member: string): void {
    const q = this.queues.get(member)
    if (q !== undefined && q.size + q.pending === 0) this.queues.delete(member)
  }

  queueDepth (member: string): number {
    const q = this.queues.get(member)
    return q === undefined ? 0 : q.size + q.pending
  }

  /** Wait for every queued task (shutdown drain). */
  async idle (): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks])
    await Promise.all([...this.queues.values()].map(async q => { await q.onIdle() }))
  }

  /**
   * Pin one CID. Resolves once `min` members acknowledged (the others go on in the
   * background); rejects with NotEnoughReplicasError when that is no longer possible.
   */
  async pin (cid: string, opts: PinOptions): Promise<string[]> {
    const { store } = this.c
    const existing = await store.get(cid)
    const existingHolders = existing !== undefined ? await store.holders(cid) : []
    if (existing !== undefined && existing.state === 'pinned') {
      if (opts.mode === 'direct' && existing.mode === 'recursive') {
        throw new CommandError(`pin: ${cid} already pinned recursively`)
      }
      if (existing.mode === opts.mode && existingHolders.length >= existing.replicationMin) {
        if (opts.name !== undefined && opts.name !== existing.name) await store.rename(cid, opts.name)
        return existingHolders
      }
    }
    const name = opts.name ?? existing?.name ?? ''
    const decision = this.c.placement.place({ key: cid, name, replication: opts.replication })
    const { min, max } = decision.replication
    const keep = existingHolders.filter(m => decision.ranked.includes(m))
    const targets = [...keep, ...decision.ranked.filter(m => !keep.includes(m))]
    if (targets.length < min) {
      throw new NotEnoughReplicasError(cid, 0, min, [`only ${targets.length} members are up and eligible`])
    }
    const primary = targets.slice(0, max)
    const spares = targets.slice(max)
    // The intent is durable before any member is asked.
    await store.putPin({
      cid, name, mode: opts.mode, state: 'pinned', metadata: opts.metadata ?? existing?.metadata ?? {},
      replicationMin: min, replicationMax: max,
    }, primary.map(member => ({ member, status: 'queued' as const })))
    return await this.fanOut(cid, opts.mode, name, min, primary, spares, opts.signal, opts.scope)
  }

  private async fanOut (cid: string, mode: PinMode, name: string, min: number, primary: string[], spares: string[], request: AbortSignal, scope: RequestScope): Promise<string[]> {
    // Work continues after the answer; only an unanswered client's disconnect cancels it.
    const work = new AbortController()
    if (this.c.shutdown.aborted) work.abort(this.c.shutdown.reason)
    this.working.add(work)
    const signal = work.signal

    return await new Promise<string[]>((resolve, reject) => {
      const acked: string[] = []
      const failures: string[] = []
      let running = 0
      let answered = false
      const onAbort = (): void => {
        work.abort(request.reason)
        if (!answered) { answered = true; reject(request.reason) }
      }
      request.addEventListener('abort', onAbort, { once: true })
      const finish = (): void => {
        if (answered) return
        if (acked.length >= min) {
          answered = true
          request.removeEventListener('abort', onAbort)
          resolve([...acked])
        } else if (running === 0) {
          answered = true
          request.removeEventListener('abort', onAbort)
          reject(request.aborted ? request.reason : new NotEnoughReplicasError(cid, acked.length, min, failures))
        }
      }
      const start = (member: string): void => {
        running++
        const task = this.pinOn(member, cid, mode, name, signal, scope)
          .then(() => { acked.push(member) }, async (err: unknown) => {
            failures.push(`${member}: ${errorMessage(err)}`)
            if (err instanceof PinWithdrawnError) return
            if (isLoopRefusal(err)) {
              // A loop below: the client learns of it as it is; no spare would fix it.
              if (!answered) { answered = true; request.removeEventListener('abort', onAbort); reject(err) }
              await this.c.store.setAllocation(cid, member, 'error', errorMessage(err)).catch(() => {})
              return
            }
            const spare = spares.shift()
            if (spare !== undefined && !signal.aborted) start(spare)
            await this.c.store.setAllocation(cid, member, 'error', errorMessage(err)).catch(() => {})
          })
          .finally(() => {
            running--
            finish()
            if (running === 0) this.working.delete(work)
            this.tasks.delete(task)
          })
        this.tasks.add(task)
      }
      for (const m of primary) start(m)
    })
  }

  /**
   * Whether this hub has the pin at that member queued or under way (the reconciler and
   * the balancing run leave it alone: a second task for it would ask the member twice).
   */
  busy (cid: string, member: string): boolean {
    return this.inFlight.has(`${cid} ${member}`)
  }

  /** Busy (see `busy`) for as long as `work` runs: from queueing to the last store write. */
  private async track<T> (cid: string, member: string, work: () => Promise<T>): Promise<T> {
    const key = `${cid} ${member}`
    this.inFlight.add(key)
    try {
      return await work()
    } finally {
      this.inFlight.remove(key)
    }
  }

  /** How many pins this hub is driving onto the member right now. */
  pinningOn (member: string): number {
    return this.pinning.get(member)
  }

  /**
   * Pin on one member, through its queue, copying the DAG from a holder when the member
   * lacks it. That the work is under way lives in memory only: after a crash the
   * allocation is `queued` (or `error`) in the store either way, and the reconciler
   * drives it again.
   */
  async pinOn (member: string, cid: string, mode: PinMode, name: string, signal: AbortSignal, scope: RequestScope): Promise<void> {
    await this.track(cid, member, async () => {
      // The member's slot is held for its calls only; the store writes after them run
      // outside it, so a member that is quick to answer is not kept waiting on them.
      await this.enqueue(member, async () => {
        this.pinning.add(member)
        try {
          await this.pinOnMember(member, cid, mode, name, signal, scope)
        } finally {
          this.pinning.remove(member)
        }
      }, { signal })
      await this.recordPinned(member, cid, mode, signal, scope)
    })
  }

  private async pinOnMember (member: string, cid: string, mode: PinMode, name: string, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const m = this.member(member)
    const query: Record<string, string | boolean | undefined> = {
      recursive: mode === 'recursive',
      name: name !== '' ? name : undefined,
      // the cluster proxy reads `type`, not `recursive` (ipfs-cluster-proxy.md §1.2)
      type: m.kind === 'cluster-proxy' ? mode : undefined,
    }
    await this.withContent(m, cid, signal, scope, true, async (offline) => { await m.json('pin/add', { args: [cid], query: { ...query, offline: offline || undefined }, signal, scope }) })
    if (m.kind === 'cluster-proxy' && m.spec.restApi !== undefined) await this.untilClusterPinned(m, cid, signal, scope)
  }

  /**
   * The member acknowledged: the allocation is pinned, unless an unpin ran meanwhile (the
   * client got its answer at `min`, then unpinned) and its pin/rm there could have come
   * first, in which case the member is unpinned again.
   */
  private async recordPinned (member: string, cid: string, mode: PinMode, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const now = await this.c.store.get(cid)
    if (now === undefined || now.state !== 'pinned') {
      await this.enqueue(member, async () => { await this.unpinOnMember(member, cid, mode, signal, scope) }, { signal })
      throw new PinWithdrawnError(cid)
    }
    await this.c.store.setAllocation(cid, member, 'pinned')
  }

  /**
   * A cluster proxy answers pin/add once the cluster accepted the pin; with the cluster's
   * REST API known, the allocation becomes `pinned` only when its peers report it pinned.
   */
  private async untilClusterPinned (m: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const deadline = Date.now() + m.spec.timeoutMs
    let last = await liveStatus(m, cid, signal, scope)
    for (let wait = 50; last.status !== 'pinned'; wait = Math.min(wait * 2, 1_000)) {
      if (last.status === 'error') throw new UpstreamError(m.name, `cluster reports ${cid} failed: ${last.error ?? JSON.stringify(last.peers)}`)
      if (Date.now() + wait > deadline) throw new UpstreamError(m.name, `cluster did not report ${cid} pinned within ${m.spec.timeoutMs} ms (last: ${last.status})`)
      await sleep(wait, undefined, { signal })
      last = await liveStatus(m, cid, signal, scope)
    }
  }

  /**
   * Run a member call that needs `cid`'s blocks; if the member lacks them, copy the DAG
   * from a member that has it and run the call again. `offline` tells the call to ask the
   * member to use only what it has; `takesOffline` says whether Kubo honours that for this
   * command (pin/add does; pin/update, checked against Kubo 0.43, searches regardless).
   */
  private async withContent (m: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope, takesOffline: boolean, call: (offline: boolean) => Promise<void>): Promise<void> {
    // An online daemon (Kubo, a cluster's peers, a hub over them) asked to pin what it lacks
    // searches the network until the deadline instead of failing. Kubo takes its global
    // `offline` option on the pin itself and then fails fast, so content it has costs one
    // round trip. Cluster proxies and hubs do not pass that option on, so they are asked
    // first whether they have the root block (skipping this left real clusters searching
    // for a minute). Embedded nodes fail fast by themselves.
    const offline = takesOffline && m.kind === 'kubo'
    if (m.kind !== 'embedded' && !offline && !await this.hasBlock(m, cid, signal, scope)) {
      const holder = await this.findHolder(cid, m.name, signal, scope)
      if (holder !== undefined) await this.copyBestEffort(holder, m, cid, signal, scope)
    }
    try {
      await call(offline)
    } catch (err) {
      if (!isMissingContent(err)) throw err
      const holder = await this.findHolder(cid, m.name, signal, scope)
      if (holder === undefined) {
        if (!offline) throw err
        // No member has it: the daemon may still find it on its own network.
        await call(false)
        return
      }
      if (offline) await this.copyBestEffort(holder, m, cid, signal, scope)
      else await this.copyDag(holder, m, cid, signal, scope)
      await call(false)
    }
  }

  /** A copy whose failure is logged, not thrown: the member, online, may still find the content itself. */
  private async copyBestEffort (from: MemberClient, to: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<void> {
    await this.copyDag(from, to, cid, signal, scope).catch((err: unknown) => {
      if (signal.aborted) throw err
      this.c.log.warn({ ...logFields(scope), cid, from: from.name, to: to.name, err: errorMessage(err) }, 'content copy failed; asking the member to pin anyway')
    })
  }

  /** A member that has the content: the store's holders first, then any member that has the root block. */
  private async findHolder (cid: string, except: string, signal: AbortSignal, scope: RequestScope): Promise<MemberClient | undefined> {
    const known = (await this.c.store.holders(cid)).find(n => n !== except && memberClient(this.c, n) !== undefined && this.c.monitor.isUp(n))
    if (known !== undefined) return this.member(known)
    for (const m of this.c.members.values()) {
      if (m.name === except || !this.c.monitor.isUp(m.name)) continue
      if (await this.hasBlock(m, cid, signal, scope)) return m
    }
    return undefined
  }

  /** Whether the member has the block locally (`block/stat` with Kubo's `offline` option, no network search). */
  private async hasBlock (m: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<boolean> {
    try {
      await m.json('block/stat', { args: [cid], query: { offline: true }, signal, scope, timeoutMs: 5_000 })
      return true
    } catch {
      return false
    }
  }

  /** Stream `dag/export` from one member into `dag/import` on another; nothing is buffered. */
  private async copyDag (from: MemberClient, to: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<void> {
    this.c.log.info({ ...logFields(scope), cid, from: from.name, to: to.name }, 'copying content between members')
    const exp = await from.request('dag/export', { args: [cid], signal, scope })
    if (exp.status >= 400) throw from.answerError(exp, await readText(exp.body, from.name))
    const body = multipartFile(exp.body, 'dag.car')
    const imp = await to.request('dag/import', { query: { 'pin-roots': false }, body: body.stream, contentType: body.contentType, signal, scope })
    if (imp.status >= 400) {
      exp.body.destroy()
      throw to.answerError(imp, await readText(imp.body, to.name))
    }
    await discard(imp.body)
    const trailer = imp.trailers['x-stream-error'] ?? exp.trailers['x-stream-error']
    if (trailer !== undefined && trailer !== '') throw new UpstreamError(to.name, `copying ${cid}: ${trailer}`)
  }

  /**
   * Unpin: the tombstone is written first, then every member with an allocation is
   * asked; the pin row goes once all are done. Members that are down keep an `unpinning`
   * allocation for repair.
   */
  async unpin (cid: string, recursive: boolean, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const { store } = this.c
    const rec = await this.unpinnable(cid, recursive)
    await store.setPinState(cid, 'unpinning')
    const allocations = await store.allocations(cid)
    // `signal` is the request's, which shutdown aborts too.
    const results = await Promise.allSettled(allocations.map(async a => {
      await store.setAllocation(cid, a.member, 'unpinning')
      if (!this.c.monitor.isUp(a.member) || memberClient(this.c, a.member) === undefined) return
      await this.unpinOn(a.member, cid, rec.mode, signal, scope)
    }))
    if ((await store.allocations(cid)).length === 0) await store.deletePin(cid)
    // A loop below is the answer; the tombstone stays for the reconciler.
    const loop = results.find(r => r.status === 'rejected' && isLoopRefusal(r.reason))
    if (loop !== undefined) throw (loop as PromiseRejectedResult).reason
  }

  /**
   * Unpin several pins. Each is checked first, so a request that names one that is not
   * pinned (or pinned recursively, for a direct unpin) gets its error and removes none.
   */
  async unpinAll (cids: string[], recursive: boolean, signal: AbortSignal, scope: RequestScope): Promise<void> {
    for (const cid of cids) await this.unpinnable(cid, recursive)
    for (const cid of cids) await this.unpin(cid, recursive, signal, scope)
  }

  /** The pin record of a pin that this unpin may remove; Kubo's error otherwise. */
  private async unpinnable (cid: string, recursive: boolean): Promise<PinRecord> {
    const rec = await this.c.store.get(cid)
    if (rec === undefined || rec.state !== 'pinned') throw new NotPinnedError()
    if (!recursive && rec.mode === 'recursive') throw new CommandError(`${cid} is pinned recursively`)
    return rec
  }

  /** Unpin on one member, through its queue. */
  async unpinOn (member: string, cid: string, mode: PinMode, signal: AbortSignal, scope: RequestScope): Promise<void> {
    await this.track(cid, member, async () => {
      await this.enqueue(member, async () => { await this.unpinOnMember(member, cid, mode, signal, scope) }, { signal })
    })
  }

  private async unpinOnMember (member: string, cid: string, mode: PinMode, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const m = this.member(member)
    try {
      await m.json('pin/rm', { args: [cid], query: { recursive: mode === 'recursive' }, signal, scope })
    } catch (err) {
      if (!isNotPinnedAnswer(err)) {
        await this.c.store.setAllocation(cid, member, 'unpinning', errorMessage(err))
        throw err
      }
    }
    await this.c.store.deleteAllocation(cid, member)
  }

  /** pin/update on the members that hold `from`; the new pin inherits name and replication. */
  async update (from: string, to: string, unpin: boolean, signal: AbortSignal, scope: RequestScope): Promise<void> {
    const { store } = this.c
    const rec = await store.get(from)
    if (rec === undefined || rec.state !== 'pinned' || rec.mode !== 'recursive') {
      throw new CommandError("'from' cid was not recursively pinned already")
    }
    if (from === to) return
    const holders = await store.holders(from)
    const members = holders.length > 0 ? holders : (await store.allocations(from)).map(a => a.member)
    await store.putPin({ ...rec, cid: to, state: 'pinned' }, members.map(member => ({ member, status: 'pinning' as const })))
    const failures: string[] = []
    let acked = 0
    let loop: unknown
    await Promise.all(members.map(async member => {
      const m = this.member(member)
      try {
        await this.enqueue(member, async () => {
          await this.withContent(m, to, signal, scope, false, async () => { await m.json('pin/update', { args: [from, to], query: { unpin }, signal, scope }) })
        }, { signal })
        await store.setAllocation(to, member, 'pinned')
        if (unpin) await store.deleteAllocation(from, member)
        acked++
      } catch (err) {
        if (isLoopRefusal(err)) loop = err
        failures.push(`${member}: ${errorMessage(err)}`)
        await store.setAllocation(to, member, 'error', errorMessage(err))
      }
    }))
    if (unpin) {
      if ((await store.allocations(from)).length === 0) await store.deletePin(from)
      else await store.setPinState(from, 'unpinning')
    }
    if (loop !== undefined) throw loop
    if (acked < Math.min(rec.replicationMin, members.length) || acked === 0) {
      throw new NotEnoughReplicasError(to, acked, rec.replicationMin, failures)
    }
  }

  private member (name: string): MemberClient {
    const m = memberClient(this.c, name)
    if (m === undefined) throw new CommandError(`member ${name} is not in the topology`)
    return m
  }
}
