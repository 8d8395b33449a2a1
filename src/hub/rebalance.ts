/**
 * @module hub/rebalance
 * The reconciler's balancing: one step that decides, for one pin, which copies it
 * should gain and which it should lose, and a run that walks the pinset with that step
 * at `hub.rebalance.rate` pins per second. The reconciler's periodic pass and every
 * topology change use the same run; they differ only in what counts as out of place.
 *
 * A copy has to go when its member left the topology, drains, or is no longer selected by
 * the pin's placement rule; after a topology change also when the change pushed its
 * member out of the pin's preferred placement (rendezvous ranking with every member
 * assumed up), so adding a member moves only its own share. A pin short of
 * min(max, eligible members) copies gets new ones, best-ranked first. Copies go only once
 * enough of the others are pinned on up members: new copies first, old ones after.
 * Surplus copies above `max` (a replaced member came back) go lowest-ranked first.
 *
 * A run keeps the pins it is moving in a bounded window and looks at them again every
 * half second, so old copies go soon after the new ones are pinned; a pin that stays
 * unsettled for STUCK_MS is left to the next pass.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Placement } from '../placement/placement.js'
import type { Allocation, PinRecord } from '../state/store.js'
import type { HubComponents } from './components.js'

export type BalanceComponents = Pick<HubComponents, 'topology' | 'members' | 'retiring' | 'monitor' | 'placement' | 'store' | 'pins' | 'metrics' | 'log' | 'rebalance' | 'shutdown'>

export interface BalanceRun {
  reason: 'topology' | 'pass'
  /** The placement before a topology change: copies it preferred and the new one does not are moved. */
  previous?: Placement
  /** Checked between pins: the run ends early (lease lost, hub stopping, a newer run). */
  cancelled: () => boolean
  /** New allocations were written: drive them now rather than at the next tick. */
  kick: () => void
}

type Outcome = 'settled' | 'moving' | 'blocked'

const STUCK_MS = 120_000
const SETTLE_POLL_MS = 500

export class Balancer {
  private readonly c: BalanceComponents
  /** When the next pin may get new copies (token bucket of one). */
  private nextCopyAt = 0

  constructor (components: BalanceComponents) {
    this.c = components
  }

  /**
   * Walk the pinset once, moving what is out of place. Progress goes to `rebalance`,
   * which keeps the last run that found something (a run that finds nothing leaves it).
   */
  async run (run: BalanceRun): Promise<void> {
    const progress = this.c.rebalance
    let reported = false
    const window = new Map<string, number>()
    const windowSize = Math.max(100, Math.ceil(this.c.topology.hub.rebalance.rate * 10))
    const count = (found: boolean, settled: boolean): void => {
      if (!reported) {
        Object.assign(progress, { running: true, reason: run.reason, total: 0, done: 0, pending: 0 })
        reported = true
      }
      if (found) progress.total++
      if (settled) {
        progress.done++
        this.c.metrics.rebalanceMoves.inc()
      }
      progress.pending = progress.total - progress.done
      this.c.metrics.rebalancePending.set(progress.pending)
    }
    try {
      for await (const pin of this.c.store.list({ state: 'pinned' })) {
        if (run.cancelled()) return
        const { outcome, misplaced } = await this.step(pin, run)
        if (!misplaced) continue
        count(true, outcome === 'settled')
        if (outcome === 'moving') window.set(pin.cid, Date.now())
        if (window.size >= windowSize) await this.settle(window, run, windowSize / 2, count)
      }
      await this.settle(window, run, 0, count)
    } finally {
      if (reported) progress.running = false
    }
  }

  /** Look at the pins being moved again until at most `target` are left (or they are stuck). */
  private async settle (window: Map<string, number>, run: BalanceRun, target: number, count: (found: boolean, settled: boolean) => void): Promise<void> {
    while (window.size > target && !run.cancelled()) {
      await sleep(SETTLE_POLL_MS, undefined, { signal: this.c.shutdown })
      for (const [cid, since] of window) {
        if (run.cancelled()) return
        const pin = await this.c.store.get(cid)
        const outcome = pin === undefined || pin.state !== 'pinned' ? 'settled' : (await this.step(pin, run)).outcome
        if (outcome === 'settled') {
          window.delete(cid)
          count(false, true)
        } else if (Date.now() - since > STUCK_MS) {
          window.delete(cid) // still pending; the next pass looks at it again
        }
      }
    }
  }

  /**
   * One pin: add the copies it lacks, remove those that should go once it is safe to.
   * `misplaced`: this step changed something, or copies that should go are still there.
   */
  private async step (pin: PinRecord, run: Pick<BalanceRun, 'previous' | 'kick'>): Promise<{ outcome: Outcome, misplaced: boolean }> {
    const { store, monitor, pins, metrics, log } = this.c
    const max = pin.replicationMax
    const allocations = (await store.allocations(pin.cid)).filter(a => a.status !== 'unpinning')
    const request = { key: pin.cid, name: pin.name }
    const ranking = this.c.placement.preferred(request)
    const order = new Map(ranking.map((m, i) => [m, i]))
    const pushedOut = new Set(run.previous?.preferred(request).slice(0, max).filter(m => !ranking.slice(0, max).includes(m)))
    const leaving = allocations.filter(a => !order.has(a.member) || pushedOut.has(a.member))
    const staying = allocations.filter(a => !leaving.includes(a))
    const want = Math.min(max, ranking.length)
    let changed = false

    if (staying.length < want) {
      const taken = new Set(allocations.map(a => a.member))
      const targets = ranking.filter(m => !taken.has(m) && monitor.canTakePins(m)).slice(0, want - staying.length)
      if (targets.length > 0) {
        await this.copySlot()
        for (const member of targets) {
          log.info({ cid: pin.cid, member, from: leaving.map(a => a.member) }, leaving.length > 0 ? 'moving a copy' : 'fewer copies than max: placing another')
          await store.setAllocation(pin.cid, member, 'queued')
          metrics.repairs.labels(member, leaving.length > 0 ? 'move' : 'replace').inc()
          staying.push({ cid: pin.cid, member, status: 'queued', attempts: 0, nextAttemptAt: 0, updatedAt: Date.now() })
        }
        changed = true
        run.kick()
      }
    }

    // The best `max` copies pinned on up members are kept; once there are enough of them,
    // every other copy that is not being worked on goes (those on down members wait).
    const pinnedUp = staying.filter(a => a.status === 'pinned' && monitor.isUp(a.member))
      .sort((a, b) => order.get(a.member)! - order.get(b.member)!)
    const keep = new Set(pinnedUp.slice(0, max).map(a => a.member))
    const removed = new Set<string>()
    if (pinnedUp.length >= want && pinnedUp.length >= pin.replicationMin) {
      for (const a of allocations) {
        if (keep.has(a.member) || pins.busy(pin.cid, a.member)) continue
        const isLeaving = leaving.includes(a)
        if (!isLeaving && a.status === 'pinned' && !monitor.isUp(a.member)) continue
        log.info({ cid: pin.cid, member: a.member }, isLeaving ? 'copy moved: removing the old one' : 'more copies than max: removing the surplus one')
        await store.setAllocation(pin.cid, a.member, 'unpinning')
        metrics.repairs.labels(a.member, isLeaving ? 'move' : 'trim').inc()
        removed.add(a.member)
      }
      if (removed.size > 0) {
        changed = true
        run.kick()
      }
    }

    const left = (a: Allocation): boolean => !removed.has(a.member)
    const waiting = staying.filter(a => left(a) && a.status !== 'pinned')
    const misplaced = changed || leaving.some(left)
    if (!leaving.some(left) && waiting.length === 0 && staying.filter(left).length >= want) return { outcome: 'settled', misplaced }
    return { outcome: changed || waiting.length > 0 ? 'moving' : 'blocked', misplaced }
  }

  /** Wait for the rate limit: one pin's new copies per 1/rate seconds. */
  private async copySlot (): Promise<void> {
    const now = Date.now()
    const at = Math.max(now, this.nextCopyAt)
    this.nextCopyAt = at + 1000 / this.c.topology.hub.rebalance.rate
    if (at > now) await sleep(at - now, undefined, { signal: this.c.shutdown })
  }
}
