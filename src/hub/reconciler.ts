/**
 * @module hub/reconciler
 * Drives the store's intents to the members and repairs drift, on one hub at a time (the
 * store's `reconciler` lease; PostgreSQL hands it to another hub when this one dies).
 *
 * - Driver (every second): allocations the store says need work (queued, pinning,
 *   unpinning, error) and whose retry time has come are pinned or unpinned on their
 *   member; a failure is retried with exponential backoff and jitter. This is what makes a
 *   crash harmless: whatever a killed hub left half done is still an intent in the store.
 * - Pass (every `reconcile.interval`), per member that is up:
 *   - its pins are listed as a stream and compared one by one with the store: a pin the
 *     hub removed is unpinned; a pin the hub has but did not allocate there is adopted as a
 *     holder; a pin the hub does not know is counted and reported, never deleted;
 *   - allocations the store marks pinned but the listing did not show are queued again;
 *   - members down longer than `grace`: their pins get copies elsewhere until `min`
 *     holders are up;
 *   - a balancing run (`hub/rebalance`): pins short of `max` get copies, copies on
 *     members that left, drain or no longer match the pin's rule move, surplus copies go.
 * After a topology change a balancing run starts at once, moving also the pins whose
 * preferred placement the change altered; it cancels a run under way.
 * Listing is streamed and store reads are paged, so memory does not grow with the pinset.
 * Settings are read from the live topology, so a reload changes them for the next round.
 */
import type { MemberClient } from '../members/client.js'
import type { Placement } from '../placement/placement.js'
import type { Allocation, Leadership } from '../state/store.js'
import type { ReconcileSpec } from '../topology/index.js'
import { errorMessage } from '../errors.js'
import { memberClient, type HubComponents } from './components.js'
import { Balancer, type BalanceRun } from './rebalance.js'
import { BACKGROUND } from '../request-context.js'

export type ReconcilerComponents = Pick<HubComponents, 'topology' | 'members' | 'retiring' | 'monitor' | 'placement' | 'store' | 'pins' | 'metrics' | 'log' | 'rebalance' | 'shutdown'>

const LEASE = 'supercluster-reconciler'
const DRIVE_EVERY_MS = 1_000
const DRIVE_BATCH = 256

export class Reconciler {
  private readonly c: ReconcilerComponents
  private readonly balancer: Balancer
  private lease?: Leadership
  private driveTimer?: ReturnType<typeof setInterval>
  private passTimer?: ReturnType<typeof setInterval>
  private leaseTimer?: ReturnType<typeof setInterval>
  private driving = false
  private passing?: Promise<void>
  private stopped = false
  /** The pass interval the timer runs at. */
  private intervalMs = 0
  private balancing?: Promise<void>
  /** Bumped by every balancing run; an older run sees it and stops. */
  private runId = 0
  /** The placement before the oldest topology change whose run has not finished. */
  private unsettledPrevious?: Placement

  constructor (components: ReconcilerComponents) {
    this.c = components
    this.balancer = new Balancer(components)
  }

  private get spec (): ReconcileSpec {
    return this.c.topology.hub.reconcile
  }

  get leader (): boolean {
    return this.lease?.held === true
  }

  async start (): Promise<void> {
    this.lease = await this.c.store.leadership(LEASE)
    this.lease.onLost(() => {
      this.c.log.warn('reconciler lease lost; another hub may take over')
      this.c.metrics.reconcilerLeader.set(0)
    })
    await this.tryLead()
    // A hub that is not the leader keeps asking, so it takes over within seconds.
    this.leaseTimer = setInterval(() => { void this.tryLead() }, Math.min(DRIVE_EVERY_MS * 2, this.spec.intervalMs))
    this.leaseTimer.unref()
    this.driveTimer = setInterval(() => { void this.drive() }, DRIVE_EVERY_MS)
    this.driveTimer.unref()
    this.startPassTimer()
    void this.drive()
  }

  private startPassTimer (): void {
    clearInterval(this.passTimer)
    this.intervalMs = this.spec.intervalMs
    this.passTimer = setInterval(() => { void this.pass() }, this.intervalMs)
    this.passTimer.unref()
  }

  /**
   * The topology changed: pass timing follows `hub.reconcile`, and a balancing run over
   * the pinset starts now (on the leader), moving what the change put out of place.
   */
  topologyChanged (previous: Placement): void {
    if (this.stopped) return
    if (this.passTimer !== undefined && this.spec.intervalMs !== this.intervalMs) this.startPassTimer()
    if (!this.leader) return // the leader's own topology decides where pins go
    this.unsettledPrevious ??= previous
    void this.balance('topology')
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.driveTimer)
    clearInterval(this.passTimer)
    clearInterval(this.leaseTimer)
    // A pass under way notices `stopped` between members and the shutdown signal inside one.
    await this.lease?.release().catch(() => {})
    this.c.metrics.reconcilerLeader.set(0)
  }

  private async tryLead (): Promise<void> {
    if (this.stopped || this.lease === undefined || this.lease.held) return
    try {
      if (await this.lease.tryAcquire()) {
        this.c.metrics.reconcilerLeader.set(1)
        this.c.log.info('this hub runs the reconciler')
        void this.drive()
      }
    } catch (err) {
      this.c.log.warn({ err: errorMessage(err) }, 'reconciler lease check failed')
    }
  }

  // ---------------------------------------------------------------------------------------
  // Driver

  /** One round of due work; overlapping rounds are skipped. */
  async drive (): Promise<void> {
    if (this.driving || this.stopped || !this.leader) return
    this.driving = true
    try {
      const due = await this.c.store.due({ now: Date.now(), limit: DRIVE_BATCH })
      await Promise.all(due.map(async a => { await this.work(a) }))
    } catch (err) {
      if (!this.stopped) this.c.log.warn({ err: errorMessage(err) }, 'reconciler driver round failed')
    } finally {
      this.driving = false
    }
  }

  private async work (a: Allocation): Promise<void> {
    const { store, pins, monitor } = this.c
    if (pins.busy(a.cid, a.member)) return
    const pin = await store.get(a.cid)
    if (pin === undefined) {
      await store.deleteAllocation(a.cid, a.member)
      return
    }
    // Not in the topology (nor retiring): nothing to do there until it comes back; the
    // balancing run re-places its pins. Looked at again rarely, so it does not crowd the batch.
    if (memberClient(this.c, a.member) === undefined) {
      await store.scheduleRetry(a.cid, a.member, a.status, 'member is not in the topology', Date.now() + this.spec.retryMaxMs)
      return
    }
    const unpin = pin.state === 'unpinning' || a.status === 'unpinning'
    if (!unpin && !this.takesPins(a.member)) {
      // A pin not yet on a member that drains or left: it goes there no more.
      await store.setAllocation(a.cid, a.member, 'unpinning')
      return
    }
    if (!monitor.isUp(a.member)) {
      await store.scheduleRetry(a.cid, a.member, a.status, a.error ?? 'member is down', Date.now() + this.backoff(a.attempts))
      return
    }
    try {
      if (unpin) await pins.unpinOn(a.member, a.cid, pin.mode, this.c.shutdown, BACKGROUND)
      else await pins.pinOn(a.member, a.cid, pin.mode, pin.name, this.c.shutdown, BACKGROUND)
      this.c.metrics.repairs.labels(a.member, unpin ? 'unpin' : 'repin').inc()
      if (unpin && pin.state === 'unpinning' && (await store.allocations(a.cid)).length === 0) await store.deletePin(a.cid)
    } catch (err) {
      if (this.c.shutdown.aborted) return
      this.c.metrics.repairs.labels(a.member, 'retry_failed').inc()
      await store.scheduleRetry(a.cid, a.member, unpin ? 'unpinning' : 'error', errorMessage(err), Date.now() + this.backoff(a.attempts))
        .catch(() => {})
    }
  }

  /** In the topology and not draining. */
  private takesPins (member: string): boolean {
    return this.c.members.get(member)?.spec.drain === false
  }

  /** Exponential backoff with jitter: half to all of base·2^attempts, capped. */
  private backoff (attempts: number): number {
    const full = Math.min(this.spec.retryMaxMs, this.spec.retryBaseMs * 2 ** Math.min(attempts, 30))
    return Math.round(full / 2 + Math.random() * full / 2)
  }

  // ---------------------------------------------------------------------------------------
  // Pass

  /** One reconcile pass over every member; overlapping passes are skipped. */
  async pass (): Promise<void> {
    if (this.passing !== undefined || this.stopped || !this.leader) return
    this.passing = (async () => {
      for (const m of this.c.members.values()) {
        if (this.stopped || !this.leader) return
        if (this.c.monitor.isUp(m.name)) await this.reconcileMember(m)
      }
      if (!this.stopped && this.leader) {
        await this.replaceDownMembers()
        await this.balance('pass')
      }
    })().catch((err: unknown) => {
      if (!this.stopped) this.c.log.warn({ err: errorMessage(err) }, 'reconcile pass failed')
    }).finally(() => { this.passing = undefined })
    await this.passing
  }

  /** Compare one member's pins with the store, both ways. */
  private async reconcileMember (m: MemberClient): Promise<void> {
    const { store, log, metrics } = this.c
    const started = Date.now()
    let unknown = 0
    try {
      // Kubo lists recursive and direct pins separately; a cluster proxy ignores `type` and
      // lists its whole pinset both times, which only repeats harmless checks.
      for (const type of ['recursive', 'direct']) {
        for await (const entry of m.ndjson<{ Cid?: string }>('pin/ls', { query: { type, stream: true }, scope: BACKGROUND, signal: this.c.shutdown })) {
          if (typeof entry.Cid !== 'string') continue
          const cid = entry.Cid
          const pin = await store.get(cid)
          if (pin === undefined) {
            if (++unknown <= 5) log.info({ member: m.name, cid }, 'member holds a pin the hub does not know (reported, not deleted)')
            continue
          }
          const mine = (await store.allocations(cid)).find(a => a.member === m.name)
          if (pin.state === 'unpinning') {
            if (mine?.status !== 'unpinning') await store.setAllocation(cid, m.name, 'unpinning')
          } else if (mine === undefined) {
            await store.setAllocation(cid, m.name, 'pinned') // a holder the hub did not know of
            metrics.repairs.labels(m.name, 'adopt').inc()
          } else if (mine.status === 'pinned' || mine.status === 'error' || mine.status === 'queued') {
            if (!this.c.pins.busy(cid, m.name)) await store.setAllocation(cid, m.name, 'pinned') // seen now
          }
        }
      }
      metrics.unknownPins.labels(m.name).set(unknown)
      if (unknown > 5) log.info({ member: m.name, unknown }, 'member holds pins the hub does not know; `supercluster pins import` adopts them')
      // What the store says is pinned there but the listing did not show: pin it again.
      for await (const a of store.listAllocations({ member: m.name, status: ['pinned'] })) {
        if (a.updatedAt >= started || this.c.pins.busy(a.cid, m.name)) continue
        const pin = await store.get(a.cid)
        if (pin?.state !== 'pinned') continue
        log.warn({ member: m.name, cid: a.cid }, 'pin missing on member; pinning it again')
        await store.setAllocation(a.cid, m.name, 'queued')
      }
      metrics.reconcilePasses.labels(m.name, 'ok').inc()
    } catch (err) {
      metrics.reconcilePasses.labels(m.name, 'error').inc()
      if (!this.c.shutdown.aborted) log.warn({ member: m.name, err: errorMessage(err) }, 'reconcile of member failed')
    }
  }

  /** Pins held by members down longer than the grace period get copies on up members until `min` are up. */
  private async replaceDownMembers (): Promise<void> {
    const { store, monitor, placement, log, metrics } = this.c
    const down = [...this.c.members.keys()].filter(n => !monitor.isUp(n) && monitor.downFor(n) >= this.spec.graceMs)
    for (const member of down) {
      for await (const a of store.listAllocations({ member, status: ['pinned', 'pinning', 'queued', 'error'] })) {
        const pin = await store.get(a.cid)
        if (pin?.state !== 'pinned') continue
        const allocations = await store.allocations(a.cid)
        const upCopies = allocations.filter(x => monitor.isUp(x.member) && x.status !== 'unpinning')
        let missing = pin.replicationMin - upCopies.length
        if (missing <= 0) continue
        const decision = placement.place({ key: a.cid, name: pin.name, replication: { min: pin.replicationMin, max: pin.replicationMax }, exclude: new Set(allocations.map(x => x.member)) })
        for (const target of decision.ranked) {
          if (missing-- <= 0) break
          log.info({ cid: a.cid, from: member, to: target }, 'member down past its grace period: placing a copy elsewhere')
          await store.setAllocation(a.cid, target, 'queued')
          metrics.repairs.labels(target, 'replace').inc()
        }
      }
    }
  }

  /**
   * One balancing run (`hub/rebalance`). A run after a topology change cancels one under
   * way and compares with the placement before the oldest change not yet settled; the
   * periodic pass's run is skipped while another runs.
   */
  async balance (reason: BalanceRun['reason']): Promise<void> {
    if (this.stopped || !this.leader) return
    if (reason === 'pass' && this.balancing !== undefined) return
    const id = ++this.runId
    await this.balancing
    if (id !== this.runId || this.stopped) return
    const previous = reason === 'topology' ? this.unsettledPrevious : undefined
    let cancelled = false
    const run = this.balancer.run({
      reason,
      previous,
      cancelled: () => (cancelled ||= this.stopped || !this.leader || id !== this.runId || this.c.shutdown.aborted),
      kick: () => { void this.drive() },
    }).then(() => {
      if (reason === 'topology' && !cancelled && this.unsettledPrevious === previous) this.unsettledPrevious = undefined
    }, (err: unknown) => {
      if (!this.stopped && !this.c.shutdown.aborted) this.c.log.warn({ err: errorMessage(err) }, 'balancing run failed')
    }).finally(() => {
      if (this.balancing === run) this.balancing = undefined
    })
    this.balancing = run
    await run
  }
}
