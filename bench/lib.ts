/**
 * @module bench/lib
 * Small helpers shared by the benchmark scenarios, kept apart from `run.ts` so each
 * scenario reads as "start processes, measure, compare":
 * - child processes: spawn a node script, wait for a ready line or for the hub's
 *   `POST /api/v0/id` → 200, stop by PID (SIGTERM, then SIGKILL), with an exit hook that
 *   kills whatever a crashed run left behind;
 * - /proc sampling of another process: CPU time (utime + stime) and RSS (VmRSS, VmHWM);
 *   CPU per request is the regression figure (performance.md §7: stable to ±10% where
 *   req/s is not);
 * - load: an autocannon wrapper that keeps every response time (autocannon's own
 *   histogram rounds to whole milliseconds, too coarse for "+1 ms" goals), and a
 *   fixed-count burst driver on an undici Pool for requests that differ one from the next;
 * - percentiles and a plain-text table.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { performance } from 'node:perf_hooks'
import { Pool, request } from 'undici'
import autocannon from 'autocannon'

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

/** PIDs of every child still running, killed by the exit hook if the bench dies early. */
const live = new Set<number>()
let hooked = false

function hookExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const pid of live) {
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${live.size} child process(es)\n`)
      process.exit(130)
    })
  }
}

const TAIL_BYTES = 16 * 1024

export interface Child {
  name: string
  pid: number
  proc: ChildProcess
  /** Last bytes of stdout and stderr together, for error messages. */
  tail: () => string
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop: (graceMs?: number) => Promise<void>
}

/** Start `node <script> ...args` with stdout and stderr captured (tail only). */
export function spawnNode (name: string, script: string, args: string[], env?: Record<string, string>): Child {
  hookExit()
  const proc = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`)
  const pid = proc.pid
  live.add(pid)
  let buf = ''
  const keep = (chunk: Buffer): void => {
    buf += chunk.toString('utf8')
    if (buf.length > TAIL_BYTES * 2) buf = buf.slice(-TAIL_BYTES)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  let running = true
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      running = false
      live.delete(pid)
      resolve({ code, signal })
    })
  })
  const stop = async (graceMs = 5000): Promise<void> => {
    if (!running) return
    try { process.kill(pid, 'SIGTERM') } catch { return }
    const t = await Promise.race([exited.then(() => 'exited'), sleep(graceMs).then(() => 'timeout')])
    if (t === 'timeout' && running) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      await exited
    }
  }
  return { name, pid, proc, tail: () => buf.slice(-TAIL_BYTES), exited, stop }
}

/** Wait until a stdout line matches `re`; returns the match. Fails if the child exits first. */
export async function waitForLine (child: Child, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  return await new Promise((resolve, reject) => {
    let acc = ''
    const timer = setTimeout(() => { done(); reject(new Error(`${child.name}: no line matching ${re} within ${timeoutMs} ms; output:\n${child.tail()}`)) }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      acc += chunk.toString('utf8')
      for (const line of acc.split('\n')) {
        const m = line.match(re)
        if (m !== null) { done(); resolve(m); return }
      }
    }
    const onExit = (code: number | null): void => {
      done()
      reject(new Error(`${child.name}: exited (code ${code}) before becoming ready; output:\n${child.tail()}`))
    }
    const done = (): void => {
      clearTimeout(timer)
      child.proc.stdout!.off('data', onData)
      child.proc.off('exit', onExit)
    }
    child.proc.stdout!.on('data', onData)
    child.proc.once('exit', onExit)
  })
}

/** Poll `POST {url}/api/v0/id` until it answers 200. Fails early if the child exits. */
export async function waitForHub (child: Child, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void child.exited.then(() => { exited = true })
  let last = ''
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name}: exited before answering /api/v0/id; output:\n${child.tail()}`)
    try {
      const r = await request(`${url}/api/v0/id`, { method: 'POST', headersTimeout: 2000, bodyTimeout: 2000 })
      const body = await r.body.text()
      if (r.statusCode === 200) return
      last = `status ${r.statusCode}: ${body.slice(0, 300)}`
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(`${child.name}: /api/v0/id not 200 within ${timeoutMs} ms (last: ${last}); output:\n${child.tail()}`)
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for the hub's listen address). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

// ---------------------------------------------------------------------------------------
// /proc sampling
// ---------------------------------------------------------------------------------------

let clockTicks: number | undefined

/** Kernel clock ticks per second (USER_HZ), the unit of /proc/<pid>/stat times. */
export function clkTck (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** CPU time (user + system) a process has used so far, in microseconds. */
export function cpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // comm (field 2) may contain spaces and parentheses: split after the last ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state); utime is field 14, stime field 15
  const ticks = Number(rest[11]) + Number(rest[12])
  return ticks * 1e6 / clkTck()
}

/** Resident set size now and its high-water mark, in bytes. */
export function rss (pid: number): { rss: number, hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
    return m === null ? 0 : Number(m[1]) * 1024
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Reset a process's VmHWM to its current RSS (Linux clear_refs "5"); false if not allowed. */
export function resetPeakRss (pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/**
 * Samples a process's RSS every `intervalMs` until stopped. The peak is the larger of the
 * sampled maximum and VmHWM (exact if the HWM was reset at the start).
 */
export class RssSampler {
  private readonly pid: number
  private timer?: NodeJS.Timeout
  private maxSeen = 0
  readonly hwmReset: boolean

  constructor (pid: number, intervalMs = 20) {
    this.pid = pid
    this.hwmReset = resetPeakRss(pid)
    this.sample()
    this.timer = setInterval(() => { this.sample() }, intervalMs)
  }

  private sample (): void {
    try {
      this.maxSeen = Math.max(this.maxSeen, rss(this.pid).rss)
    } catch { /* process gone */ }
  }

  /** Stop sampling; the peak RSS in bytes over the sampled period. */
  stop (): number {
    clearInterval(this.timer)
    this.timer = undefined
    this.sample()
    let hwm = 0
    if (this.hwmReset) {
      try { hwm = rss(this.pid).hwm } catch { /* gone */ }
    }
    return Math.max(this.maxSeen, hwm)
  }
}

// ---------------------------------------------------------------------------------------
// Statistics and formatting
// ---------------------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** Sort a copy of latencies (ms) as a Float64Array. */
export function sortedLatencies (values: number[]): Float64Array {
  const a = Float64Array.from(values)
  a.sort()
  return a
}

export const MiB = 1024 * 1024

/** A number with a sensible number of digits for a table cell. */
export function fmt (n: number | undefined, digits?: number): string {
  if (n === undefined || Number.isNaN(n)) return '-'
  if (digits !== undefined) return n.toFixed(digits)
  const a = Math.abs(n)
  if (a >= 1000) return Math.round(n).toLocaleString('en-US')
  if (a >= 100) return n.toFixed(0)
  if (a >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

/** A plain-text table with a header rule; every column left-aligned except numbers. */
export function table (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const numeric = (s: string): boolean => /^[-+]?[\d,.]+(?:[x%×]| ms| MiB)?$/.test(s)
  const line = (cells: string[]): string => cells.map((c, i) => numeric(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

// ---------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------

/** One HTTP answer, for the failure report. */
export interface Probe {
  command: string
  status: number
  body: string
}

/** One POST, body read as text (first 2000 characters kept). Network errors become status 0. */
export async function probe (url: string, init: { body?: string, headers?: Record<string, string> } = {}): Promise<Probe> {
  const u = new URL(url)
  const command = `POST ${u.pathname}${u.search}`
  try {
    const r = await request(url, { method: 'POST', body: init.body, headers: init.headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
    const text = await r.body.text()
    return { command, status: r.statusCode, body: text.slice(0, 2000) }
  } catch (err) {
    return { command, status: 0, body: `request failed: ${(err as Error).message}` }
  }
}

export interface LoadResult {
  /** Completed requests (any status) in the measured window. */
  requests: number
  ok: number
  non2xx: number
  errors: number
  durationS: number
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  /** CPU µs per completed request of each watched process, by name. */
  cpuUsPerReq: Record<string, number>
  statusCodes: Record<string, number>
}

export interface LoadOptions {
  url: string
  connections: number
  durationS: number
  /** Processes whose CPU time is charged to this load: name → pid. */
  watch?: Record<string, number>
  /** Seconds of unmeasured load first (JIT, connection pools). */
  warmupS?: number
}

async function cannon (url: string, connections: number, durationS: number, onResponse?: (status: number, ms: number) => void): Promise<autocannon.Result> {
  return await new Promise((resolve, reject) => {
    const inst = autocannon({ url, method: 'POST', connections, duration: durationS, timeout: 30 }, (err, res) => {
      if (err !== null && err !== undefined) reject(err)
      else resolve(res)
    })
    if (onResponse !== undefined) inst.on('response', (_client, status, _bytes, ms) => { onResponse(status, ms) })
  })
}

/**
 * autocannon POST load for `durationS` seconds at `connections`, after an optional warm-up;
 * latencies are kept per response so percentiles have sub-millisecond resolution, and the
 * watched processes' CPU time is read just before and just after the measured window.
 */
export async function load (opts: LoadOptions): Promise<LoadResult> {
  if ((opts.warmupS ?? 0) > 0) await cannon(opts.url, opts.connections, opts.warmupS!)
  const latencies: number[] = []
  const statusCodes: Record<string, number> = {}
  let ok = 0
  const watch = Object.entries(opts.watch ?? {})
  const cpu0 = watch.map(([, pid]) => cpuMicros(pid))
  const t0 = performance.now()
  const res = await cannon(opts.url, opts.connections, opts.durationS, (status, ms) => {
    statusCodes[status] = (statusCodes[status] ?? 0) + 1
    if (status >= 200 && status < 300) { ok++; latencies.push(ms) }
  })
  const elapsed = (performance.now() - t0) / 1000
  const cpu1 = watch.map(([, pid]) => cpuMicros(pid))
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0)
  const sorted = sortedLatencies(latencies)
  const cpuUsPerReq: Record<string, number> = {}
  watch.forEach(([name], i) => { cpuUsPerReq[name] = requests > 0 ? (cpu1[i] - cpu0[i]) / requests : NaN })
  return {
    requests,
    ok,
    non2xx: requests - ok,
    errors: res.errors + res.timeouts,
    durationS: elapsed,
    reqPerSec: ok / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    cpuUsPerReq,
    statusCodes,
  }
}

export interface BurstResult {
  count: number
  ok: number
  durationS: number
  perSec: number
  p50Ms: number
  p99Ms: number
  /** The first non-200 answer or transport error, if any. */
  firstFailure?: Probe
}

/**
 * Fixed-count POST bursts over one undici Pool of `concurrency` connections, kept open
 * between bursts so that a warm-up burst leaves connections (and JIT) ready for the
 * measured one. Every answer body is read in full.
 */
export class BurstClient {
  private readonly pool: Pool
  private readonly concurrency: number

  constructor (origin: string, concurrency: number) {
    this.concurrency = concurrency
    this.pool = new Pool(origin, { connections: concurrency, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 })
  }

  /** One POST per path (exactly `paths.length` requests), `concurrency` in flight. */
  async run (paths: string[]): Promise<BurstResult> {
    const latencies: number[] = []
    let next = 0
    let ok = 0
    let firstFailure: Probe | undefined
    const t0 = performance.now()
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++]
        const s = performance.now()
        try {
          const r = await this.pool.request({ path, method: 'POST' })
          const text = await r.body.text()
          if (r.statusCode === 200) {
            ok++
            latencies.push(performance.now() - s)
          } else {
            firstFailure ??= { command: `POST ${path}`, status: r.statusCode, body: text.slice(0, 2000) }
          }
        } catch (err) {
          firstFailure ??= { command: `POST ${path}`, status: 0, body: `request failed: ${(err as Error).message}` }
        }
      }
    }
    await Promise.all(Array.from({ length: this.concurrency }, worker))
    const durationS = (performance.now() - t0) / 1000
    const sorted = sortedLatencies(latencies)
    return { count: paths.length, ok, durationS, perSec: ok / durationS, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), firstFailure }
  }

  async close (): Promise<void> {
    await this.pool.close().catch(() => {})
  }
}
