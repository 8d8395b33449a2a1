/**
 * @module members/monitor
 * Marks members up or down. A periodic probe (`version`, then `repo/stat?size-only=true`
 * for free space) and the outcome of real traffic both count: `failures` consecutive
 * failures mark a member down, one success marks it up again. Members start up, so a
 * hub serves at once; placement skips members that are down.
 */
import { anySignal } from 'any-signal'
import type { MemberClient } from './client.js'
import { parseRepoStat } from './repo-stat.js'
import { errorMessage } from '../errors.js'

export interface HealthSettings {
  intervalMs: number
  timeoutMs: number
  failures: number
}

export interface MemberHealth {
  up: boolean
  consecutiveFailures: number
  lastError?: string
  lastProbeAt?: number
  /** Exponential moving average of probe latency, seconds. */
  latency?: number
  repoSize?: bigint
  storageMax?: bigint
}

export class HealthMonitor {
  private readonly members: MemberClient[]
  private readonly settings: HealthSettings
  private readonly state = new Map<string, MemberHealth>()
  private timer?: ReturnType<typeof setInterval>
  private downTimer?: ReturnType<typeof setInterval>
  private readonly stopping = new AbortController()

  constructor (members: MemberClient[], settings: HealthSettings) {
    this.members = members
    this.settings = settings
    for (const m of members) this.state.set(m.name, { up: true, consecutiveFailures: 0 })
  }

  start (): void {
    if (this.timer !== undefined) return
    void this.probeAll()
    this.timer = setInterval(() => { void this.probeAll() }, this.settings.intervalMs)
    this.timer.unref()
    // Members that are down are probed every second, so one that was late to start, or
    // came back, is used again without waiting a whole interval.
    const downEvery = Math.min(this.settings.intervalMs, 1_000)
    this.downTimer = setInterval(() => {
      void Promise.all(this.members.filter(m => this.state.get(m.name)?.up === false).map(async m => { await this.probe(m) }))
    }, downEvery)
    this.downTimer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    clearInterval(this.downTimer)
    this.timer = undefined
    this.downTimer = undefined
    this.stopping.abort()
  }

  isUp (name: string): boolean {
    return this.state.get(name)?.up ?? false
  }

  health (name: string): MemberHealth | undefined {
    return this.state.get(name)
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
    if (ok) succeeded(h)
    else this.failed(h, err?.message)
  }

  /** `failures` in a row mark a member down. */
  private failed (h: MemberHealth, message: string | undefined): void {
    h.consecutiveFailures++
    h.lastError = message
    if (h.consecutiveFailures >= this.settings.failures) h.up = false
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
      await m.json('version', { signal, timeoutMs: this.settings.timeoutMs, probe: true })
      const seconds = (performance.now() - started) / 1000
      h.latency = h.latency === undefined ? seconds : h.latency * 0.8 + seconds * 0.2
      try {
        const res = await m.small('repo/stat', { query: { 'size-only': true }, signal, timeoutMs: this.settings.timeoutMs, probe: true })
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
      succeeded(h)
    } catch (err) {
      if (!this.stopping.signal.aborted) {
        h.lastProbeAt = Date.now()
        this.failed(h, errorMessage(err))
      }
    } finally {
      signal.clear()
    }
  }
}

/** One success marks a member up again. */
function succeeded (h: MemberHealth): void {
  h.up = true
  h.consecutiveFailures = 0
}

