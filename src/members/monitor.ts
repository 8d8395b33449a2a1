/**
 * @module members/monitor
 * A circuit breaker per member, fed by a periodic probe (`version`, then
 * `repo/stat?size-only=true` for free space) and by the outcome of real traffic.
 *
 *   closed     traffic flows; `failures` consecutive failures open the breaker
 *   open       no traffic; after a cool-down (1 s, doubling on each reopening up to
 *              30 s) the breaker goes half-open
 *   half-open  a trial: the next probe (or request) decides, success closes the breaker,
 *              failure opens it again with a longer cool-down
 *
 * Members start closed, so a hub serves at once. Placement skips members whose breaker is
 * open and members below their free-space floor. A 508 answer (a hub below refusing a
 * loop) is an answer: it never counts against the member. A topology reload hands over
 * the new member set (`setMembers`): a member keeps its health unless its URLs changed.
 */
import { anySignal } from 'any-signal'
import type { MemberClient } from './client.js'
import { parseRepoStat } from './repo-stat.js'
import { errorMessage, isLoopRefusal } from '../errors.js'
import { BACKGROUND } from '../request-context.js'

export interface HealthSettings {
  intervalMs: number
  timeoutMs: number
  failures: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'

/** One breaker transition, as `onChange` listeners see it. */
export interface BreakerChange {
  member: string
  from: BreakerState
  to: BreakerState
  /** The failure that opened it (open only). */
  error?: string
}

const COOL_DOWN_MS = 1_000
const MAX_COOL_DOWN_MS = 30_000

export interface MemberHealth {
  breaker: BreakerState
  /** When an open breaker may go half-open (ms since the epoch). */
  retryAt?: number
  /** Openings since the breaker last closed; sets the cool-down. */
  openings: number
  /** When the breaker first opened since it was last closed (ms since the epoch). */
  downSince?: number
  consecutiveFailures: number
  lastError?: string
  lastProbeAt?: number
  /** Exponential moving average of probe latency, seconds. */
  latency?: number
  repoSize?: bigint
  storageMax?: bigint
}

export class HealthMonitor {
  private members: MemberClient[]
  private settings: HealthSettings
  private readonly state = new Map<string, MemberHealth>()
  private timer?: ReturnType<typeof setInterval>
  private downTimer?: ReturnType<typeof setInterval>
  private readonly stopping = new AbortController()

  private readonly floors = new Map<string, bigint>()
  private listener?: (change: BreakerChange) => void

  constructor (members: MemberClient[], settings: HealthSettings) {
    this.members = []
    this.settings = settings
    this.setMembers(members)
  }

  /**
   * The members to watch from now on: new ones start closed and are probed at once (when
   * started), a member whose URLs changed starts afresh, the others keep their health;
   * members left out are forgotten.
   */
  setMembers (members: MemberClient[]): void {
    const before = new Map(this.members.map(m => [m.name, m]))
    for (const m of members) {
      const old = before.get(m.name)
      if (old === undefined || old.urls.join(' ') !== m.urls.join(' ')) {
        this.state.set(m.name, { breaker: 'closed', openings: 0, consecutiveFailures: 0 })
        if (this.timer !== undefined) void this.probe(m)
      }
      this.floors.set(m.name, BigInt(m.spec.minFreeSpace ?? 0))
    }
    const names = new Set(members.map(m => m.name))
    for (const name of before.keys()) {
      if (names.has(name)) continue
      this.state.delete(name)
      this.floors.delete(name)
    }
    this.members = members
  }

  /** New probe settings; a running monitor restarts its timers with them. */
  configure (settings: HealthSettings): void {
    if (settings.intervalMs === this.settings.intervalMs && settings.timeoutMs === this.settings.timeoutMs && settings.failures === this.settings.failures) return
    this.settings = settings
    if (this.timer === undefined) return
    clearInterval(this.timer)
    clearInterval(this.downTimer)
    this.timer = undefined
    this.start()
  }

  start (): void {
    if (this.timer !== undefined) return
    void this.probeAll()
    this.timer = setInterval(() => { void this.probeAll() }, this.settings.intervalMs)
    this.timer.unref()
    // Open breakers are looked at every second; one whose cool-down is over gets its
    // half-open trial probe, so a member that was late to start, or came back, is used
    // again without waiting a whole interval.
    const downEvery = Math.min(this.settings.intervalMs, COOL_DOWN_MS)
    this.downTimer = setInterval(() => {
      const now = Date.now()
      void Promise.all(this.members.filter(m => {
        const h = this.state.get(m.name)
        return h !== undefined && h.breaker === 'open' && (h.retryAt ?? 0) <= now
      }).map(async m => {
        this.halfOpen(m.name, this.state.get(m.name)!)
        await this.probe(m)
      }))
    }, downEvery)
    this.downTimer.unref()
  }

  /** Told about every breaker transition (the log, recent errors); runs inline, must not throw. */
  onChange (fn: (change: BreakerChange) => void): void {
    this.listener = fn
  }

  stop (): void {
    clearInterval(this.timer)
    clearInterval(this.downTimer)
    this.timer = undefined
    this.downTimer = undefined
    this.stopping.abort()
  }

  /** Traffic may go to the member: its breaker is closed or half-open (on trial). */
  isUp (name: string): boolean {
    const h = this.state.get(name)
    if (h === undefined) return false
    if (h.breaker === 'open' && (h.retryAt ?? 0) <= Date.now()) this.halfOpen(name, h)
    return h.breaker !== 'open' // closed, or half-open (on trial)
  }

  /**
   * Up, and its last known free space (if any) above the member's floor, with room for
   * `size` more bytes on top of the floor when the content's size is known.
   */
  canTakePins (name: string, size?: bigint): boolean {
    if (!this.isUp(name)) return false
    const floor = this.floors.get(name) ?? 0n
    if (floor === 0n && size === undefined) return true
    const free = this.freeSpace(name)
    if (free === undefined) return true
    return size === undefined ? free > floor : free - size >= floor && free >= size
  }

  health (name: string): MemberHealth | undefined {
    return this.state.get(name)
  }

  /** How long the member has been down (breaker not closed since it opened), ms; 0 when up. */
  downFor (name: string): number {
    const since = this.state.get(name)?.downSince
    return since === undefined ? 0 : Date.now() - since
  }

  /** Free bytes as last probed (StorageMax − RepoSize), or undefined when unknown. */
  freeSpace (name: string): bigint | undefined {
    const h = this.state.get(name)
    if (h?.repoSize === undefined || h.storageMax === undefined) return undefined
    return h.storageMax > h.repoSize ? h.storageMax - h.repoSize : 0n
  }

  /** Real traffic reports delivery outcomes here. */
  report (name: string, ok: boolean, err?: Error): void {
    const h = this.state.get(name)
    if (h === undefined) return
    if (ok) this.succeeded(name, h)
    else this.failed(name, h, err?.message)
  }

  /** `failures` in a row open a closed breaker; a failed trial reopens a half-open one. */
  private failed (name: string, h: MemberHealth, message: string | undefined): void {
    h.consecutiveFailures++
    h.lastError = message
    if (h.breaker === 'half-open' || (h.breaker === 'closed' && h.consecutiveFailures >= this.settings.failures)) {
      const from = h.breaker
      h.openings++
      h.downSince ??= Date.now()
      h.breaker = 'open'
      h.retryAt = Date.now() + Math.min(COOL_DOWN_MS * 2 ** (h.openings - 1), MAX_COOL_DOWN_MS)
      this.listener?.({ member: name, from, to: 'open', error: message })
    }
  }

  private halfOpen (name: string, h: MemberHealth): void {
    if (h.breaker === 'half-open') return
    const from = h.breaker
    h.breaker = 'half-open'
    this.listener?.({ member: name, from, to: 'half-open' })
  }

  /** One success closes the breaker. */
  private succeeded (name: string, h: MemberHealth): void {
    const from = h.breaker
    h.breaker = 'closed'
    h.openings = 0
    h.retryAt = undefined
    h.downSince = undefined
    h.consecutiveFailures = 0
    if (from !== 'closed') this.listener?.({ member: name, from, to: 'closed' })
  }

  async probeAll (): Promise<void> {
    await Promise.all(this.members.map(async m => { await this.probe(m) }))
  }

  async probe (m: MemberClient): Promise<void> {
    const h = this.state.get(m.name)
    if (h === undefined) return
    const signal = anySignal([this.stopping.signal, AbortSignal.timeout(this.settings.timeoutMs)])
    const started = performance.now()
    try {
      // A hub that refuses with 508 (a loop, or past its depth cap) answered: it is up.
      await m.json('version', { scope: BACKGROUND, signal, timeoutMs: this.settings.timeoutMs, probe: true }).catch((err: unknown) => {
        if (!isLoopRefusal(err)) throw err
      })
      const seconds = (performance.now() - started) / 1000
      h.latency = h.latency === undefined ? seconds : h.latency * 0.8 + seconds * 0.2
      try {
        const res = await m.small('repo/stat', { query: { 'size-only': true }, scope: BACKGROUND, signal, timeoutMs: this.settings.timeoutMs, probe: true })
        if (res.status < 400) {
          const stat = parseRepoStat(res.text)
          h.repoSize = stat.RepoSize
          h.storageMax = stat.StorageMax
        }
      } catch {
        // free space stays as last known; the member still answered `version`
      }
      h.lastProbeAt = Date.now()
      h.lastError = undefined
      this.succeeded(m.name, h)
    } catch (err) {
      if (!this.stopping.signal.aborted) {
        h.lastProbeAt = Date.now()
        this.failed(m.name, h, errorMessage(err))
      }
    } finally {
      signal.clear()
    }
  }
}

