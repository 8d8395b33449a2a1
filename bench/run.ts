/**
 * @module bench/run
 * `npm run bench [-- --scenario S1,S5] [--quick]`: the hub's performance scenarios
 * (performance.md §9), each reported as a ratio against a direct call to a fake member
 * measured in the same run, because absolute req/s on a shared 2-core box swings up to 2×
 * between runs while the ratio and CPU per request do not. Every scenario starts its own
 * fake members (`bench/upstream.ts`) and hub process with fresh state, and stops them by
 * PID whatever happens. A hub that answers wrongly is recorded in the table (command,
 * status, body) instead of ending the run. Prints a table per scenario and writes
 * `bench/results/latest.json`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import {
  BurstClient, MiB, RssSampler, cpuMicros, fmt, freePort, load, probe, rss, spawnNode, table, waitForHub, waitForLine,
  type BurstResult, type Child, type LoadResult, type Probe,
} from './lib.js'
import type { PostgresServer } from '../test/fixtures/postgres.js'

const HERE = dirname(fileURLToPath(import.meta.url)) // dist/bench
const ROOT = resolve(HERE, '..', '..')
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js')
const UPSTREAM = join(HERE, 'upstream.js')
const FLOOR = join(HERE, 'floor-proxy.js')
const RESULTS = join(ROOT, 'bench', 'results')

// ---------------------------------------------------------------------------------------
// Result model
// ---------------------------------------------------------------------------------------

interface Row {
  case: string
  /** Which server was loaded. */
  target: 'direct' | 'hub' | 'floor'
  rate?: number
  unit: string
  p50Ms?: number
  p99Ms?: number
  /** CPU of the serving process (the hub for hub rows, the fake member for direct rows). */
  cpu?: number
  cpuUnit?: string
  /** This row's rate over its direct row's. */
  ratio?: number
  rssGrowthMiB?: number
  note?: string
  error?: string
}

interface Check {
  goal: string
  measured: string
  /** undefined when it could not be measured. */
  pass?: boolean
}

interface Failure {
  case: string
  command: string
  status: number
  body: string
}

interface ScenarioResult {
  id: string
  title: string
  rows: Row[]
  checks: Check[]
  failures: Failure[]
  error?: string
  seconds: number
  /** 1-minute load average when the scenario started: other work on the box skews req/s. */
  loadavgAtStart: number
}

interface Ctx {
  quick: boolean
  r: ScenarioResult
  /** Stopped in reverse order when the scenario ends. */
  cleanup: Array<() => Promise<void>>
  /** Targets (pid + URL) that already had their long warm-up. */
  warmed: Set<string>
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

interface Upstreams {
  child: Child
  ports: number[]
  urls: string[]
}

async function startUpstreams (ctx: Ctx, name: string, count: number, opts: { delayMs?: number, throttleBytesPerSec?: number } = {}): Promise<Upstreams> {
  const args = ['--ports', Array(count).fill('0').join(','), '--delay-ms', String(opts.delayMs ?? 0)]
  if (opts.throttleBytesPerSec !== undefined) args.push('--throttle-bytes-per-sec', String(opts.throttleBytesPerSec))
  const child = spawnNode(name, UPSTREAM, args)
  ctx.cleanup.push(async () => { await child.stop() })
  const m = await waitForLine(child, /^ready ([\d,]+)$/)
  const ports = m[1].split(',').map(Number)
  return { child, ports, urls: ports.map(p => `http://127.0.0.1:${p}`) }
}

/** The thinnest Node forwarder in front of `upstream` (bench/floor-proxy): the floor under the hub's cost. */
async function startFloor (ctx: Ctx, name: string, upstream: string): Promise<{ url: string, pid: number }> {
  const child = spawnNode(name, FLOOR, ['--upstream', upstream])
  ctx.cleanup.push(async () => { await child.stop() })
  const m = await waitForLine(child, /^ready (\d+)$/)
  return { url: `http://127.0.0.1:${m[1]}`, pid: child.pid }
}

interface Hub {
  child: Child
  url: string
  pid: number
  stop: () => Promise<void>
}

async function startHub (ctx: Ctx, name: string, members: string[], replication: { min: number, max: number }, state?: string, concurrency = 256): Promise<Hub> {
  const dir = mkdtempSync(join(tmpdir(), 'supercluster-bench-'))
  const port = await freePort()
  const yaml = [
    'version: 1',
    `hub: { id: ${name}, listen: 127.0.0.1:${port}, state: ${JSON.stringify(state ?? join(dir, 'state'))} }`,
    'defaults:',
    `  replication: { min: ${replication.min}, max: ${replication.max} }`,
    '  timeout: 60s',
    `  concurrency: ${concurrency}`,
    '  health: { interval: 1h, timeout: 2s, failures: 3 }',
    'members:',
    ...members.map((url, i) => `  - { name: u${i}, kind: kubo, url: ${url} }`),
    'passthrough: u0',
    '',
  ].join('\n')
  const file = join(dir, 'topology.yaml')
  writeFileSync(file, yaml)
  const child = spawnNode(name, CLI, ['daemon', '--topology', file, '--log-level', 'warn'])
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await child.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  ctx.cleanup.push(stop)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHub(child, url)
  } catch (err) {
    const exit = child.proc.exitCode
    ctx.r.failures.push({ case: name, command: `node dist/src/cli/main.js daemon --topology ${file}`, status: exit ?? -1, body: `${(err as Error).message.slice(0, 2000)}\ntopology:\n${yaml}` })
    throw err
  }
  return { child, url, pid: child.pid, stop }
}

// ---------------------------------------------------------------------------------------
// Measurement helpers
// ---------------------------------------------------------------------------------------

function recordFailure (ctx: Ctx, kase: string, p: Probe): string {
  ctx.r.failures.push({ case: kase, command: p.command, status: p.status, body: p.body })
  return `${p.status === 0 ? 'no answer' : `HTTP ${p.status}`}: ${p.body.replace(/\s+/g, ' ').slice(0, 100)}`
}

interface MeasureSpec {
  kase: string
  target: 'direct' | 'hub' | 'floor'
  url: string
  connections: number
  /** Processes whose CPU is read: name → pid; `cpuOf` names the one shown. */
  watch: Record<string, number>
  cpuOf: string
  /** The direct load this one is compared with. */
  direct?: LoadResult
  note?: string
  /** Extra validation of the probe's body: a message when it is wrong. */
  validate?: (body: string) => string | undefined
}

/**
 * Probe once (a wrong answer is recorded and the load skipped), warm up, then autocannon
 * load; pushes the table row. Any non-2xx during the load is recorded with a fresh
 * probe's body.
 */
async function measure (ctx: Ctx, m: MeasureSpec): Promise<LoadResult | undefined> {
  const errorRow = (error: string): undefined => {
    ctx.r.rows.push({ case: m.kase, target: m.target, unit: 'req/s', error })
    return undefined
  }
  const p = await probe(m.url)
  if (p.status !== 200) return errorRow(recordFailure(ctx, m.kase, p))
  const problem = m.validate?.(p.body)
  if (problem !== undefined) return errorRow(recordFailure(ctx, m.kase, { ...p, body: `${problem}; body: ${p.body}` }))
  // A young Node process is still compiling: measured right after a 1 s warm-up at c=10 the
  // hub spent ~1.7× the CPU per request it spends once warm. So the first load on a target
  // is preceded by a few seconds at c ≥ 100; later loads on it by 1 s at their own c.
  const key = `${Object.values(m.watch).join(',')} ${m.url}`
  if (!ctx.warmed.has(key)) {
    ctx.warmed.add(key)
    await load({ url: m.url, connections: Math.max(m.connections, 100), durationS: ctx.quick ? 3 : 5 })
  }
  const res = await load({ url: m.url, connections: m.connections, durationS: ctx.quick ? 3 : 10, warmupS: 1, watch: m.watch })
  const bad = res.non2xx + res.errors
  if (bad > 0) {
    const again = await probe(m.url)
    recordFailure(ctx, m.kase, { ...again, body: `${res.non2xx} non-2xx and ${res.errors} errors/timeouts during load (status counts ${JSON.stringify(res.statusCodes)}); a probe after: ${again.body}` })
  }
  ctx.r.rows.push({
    case: m.kase,
    target: m.target,
    rate: res.reqPerSec,
    unit: 'req/s',
    p50Ms: res.p50Ms,
    p99Ms: res.p99Ms,
    cpu: res.cpuUsPerReq[m.cpuOf],
    cpuUnit: 'µs/req',
    ratio: m.direct !== undefined ? res.reqPerSec / m.direct.reqPerSec : undefined,
    note: [m.note, bad > 0 ? `${bad} failed of ${res.requests}` : undefined].filter(Boolean).join('; ') || undefined,
  })
  return res
}

function check (ctx: Ctx, goal: string, measured: number | undefined, limit: number | undefined, cmp: '>=' | '<=', show: (n: number) => string): void {
  if (measured === undefined || limit === undefined || Number.isNaN(measured) || Number.isNaN(limit)) {
    ctx.r.checks.push({ goal, measured: 'not measured' })
    return
  }
  const pass = cmp === '>=' ? measured >= limit : measured <= limit
  ctx.r.checks.push({ goal, measured: show(measured), pass })
}

async function upstreamStats (url: string): Promise<{ requests: number, pins: number, adds: number, addBytes: number }> {
  const r = await request(`${url}/_bench/stats`, { method: 'POST' })
  return await r.body.json() as { requests: number, pins: number, adds: number, addBytes: number }
}

// ---------------------------------------------------------------------------------------
// S1: passthrough of a small command
// ---------------------------------------------------------------------------------------

async function s1 (ctx: Ctx): Promise<void> {
  const up = await startUpstreams(ctx, 's1-upstream', 1)
  const hub = await startHub(ctx, 's1-hub', up.urls, { min: 1, max: 1 })
  const floor = await startFloor(ctx, 's1-floor', up.urls[0])
  const watch = { hub: hub.pid, upstream: up.child.pid }

  const list = '/api/v0/bootstrap/list'
  const cpuVsFloor = (hubRes?: LoadResult, floorRes?: LoadResult): string | undefined =>
    hubRes !== undefined && floorRes !== undefined ? `CPU ${(hubRes.cpuUsPerReq.hub / floorRes.cpuUsPerReq.floor).toFixed(2)}× the floor's` : undefined
  const direct = await measure(ctx, { kase: 'bootstrap/list c=50', target: 'direct', url: `${up.urls[0]}${list}`, connections: 50, watch: { upstream: up.child.pid }, cpuOf: 'upstream' })
  const floor50 = await measure(ctx, { kase: 'bootstrap/list c=50 (floor proxy)', target: 'floor', url: `${floor.url}${list}`, connections: 50, watch: { floor: floor.pid }, cpuOf: 'floor', direct, note: 'thinnest Node forwarder' })
  const pass = await measure(ctx, { kase: 'bootstrap/list c=50 (forwarded)', target: 'hub', url: `${hub.url}${list}`, connections: 50, watch, cpuOf: 'hub', direct })
  noteOn(ctx, 'bootstrap/list c=50 (forwarded)', cpuVsFloor(pass, floor50))
  await measure(ctx, { kase: 'version c=50 (hub answers)', target: 'hub', url: `${hub.url}/api/v0/version`, connections: 50, watch: { hub: hub.pid }, cpuOf: 'hub', direct })
  const direct10 = await measure(ctx, { kase: 'bootstrap/list c=10', target: 'direct', url: `${up.urls[0]}${list}`, connections: 10, watch: { upstream: up.child.pid }, cpuOf: 'upstream' })
  const floor10 = await measure(ctx, { kase: 'bootstrap/list c=10 (floor proxy)', target: 'floor', url: `${floor.url}${list}`, connections: 10, watch: { floor: floor.pid }, cpuOf: 'floor', direct: direct10, note: 'thinnest Node forwarder' })
  const pass10 = await measure(ctx, { kase: 'bootstrap/list c=10 (forwarded)', target: 'hub', url: `${hub.url}${list}`, connections: 10, watch, cpuOf: 'hub', direct: direct10 })
  noteOn(ctx, 'bootstrap/list c=10 (forwarded)', cpuVsFloor(pass10, floor10))

  const x = (n: number): string => `${n.toFixed(2)}×`
  check(ctx, 'passthrough req/s ≥ 0.5× direct (c=50)', pass !== undefined && direct !== undefined ? pass.reqPerSec / direct.reqPerSec : undefined, 0.5, '>=', x)
  check(ctx, 'passthrough hub CPU ≤ 60 µs/req (§9)', pass?.cpuUsPerReq.hub, 60, '<=', n => `${n.toFixed(1)} µs/req`)
  check(ctx, 'passthrough added p50 ≤ 1 ms at c=10 (§9)', pass10 !== undefined && direct10 !== undefined ? pass10.p50Ms - direct10.p50Ms : undefined, 1, '<=', n => `+${n.toFixed(3)} ms`)
}

/** Appends to the note of the row named `kase`. */
function noteOn (ctx: Ctx, kase: string, text: string | undefined): void {
  const row = ctx.r.rows.find(r => r.case === kase)
  if (row === undefined || text === undefined) return
  row.note = [row.note, text].filter(Boolean).join('; ')
}

// ---------------------------------------------------------------------------------------
// S2: repo/stat fan-out to N members with 20 ms delay
// ---------------------------------------------------------------------------------------

async function s2 (ctx: Ctx): Promise<void> {
  for (const n of [1, 3, 8]) {
    const local: Ctx = { ...ctx, cleanup: [] }
    try {
      const up = await startUpstreams(local, `s2-upstream-${n}`, n, { delayMs: 20 })
      const hub = await startHub(local, `s2-hub-${n}`, up.urls, { min: 1, max: 1 })
      // With one member, a fan-out is one call in and one out: the floor forwarder's work.
      const floor = n === 1 ? await startFloor(local, 's2-floor', up.urls[0]) : undefined
      const path = '/api/v0/repo/stat?size-only=true'
      const sumCheck = (body: string): string | undefined => {
        try {
          const v = JSON.parse(body) as { RepoSize?: number }
          return v.RepoSize === n * 1_000_000 ? undefined : `RepoSize ${String(v.RepoSize)}, expected ${n * 1_000_000} (sum of ${n} members)`
        } catch {
          return 'answer is not JSON'
        }
      }
      // c=10 is the latency goal; c=100 (§9) loads the hub enough that CPU per request is
      // no longer dominated by per-wake-up costs of a nearly idle process.
      for (const c of [10, 100]) {
        const kase = `repo/stat N=${n} c=${c}`
        const direct = await measure(local, { kase, target: 'direct', url: `${up.urls[0]}${path}`, connections: c, watch: { upstream: up.child.pid }, cpuOf: 'upstream', note: 'one member' })
        const floorRes = floor === undefined ? undefined : await measure(local, { kase: `${kase} (floor proxy)`, target: 'floor', url: `${floor.url}${path}`, connections: c, watch: { floor: floor.pid }, cpuOf: 'floor', direct, note: 'thinnest Node forwarder' })
        const viaHub = await measure(local, { kase: `${kase} (fan-out)`, target: 'hub', url: `${hub.url}${path}`, connections: c, watch: { hub: hub.pid }, cpuOf: 'hub', direct, validate: sumCheck })
        if (viaHub !== undefined && floorRes !== undefined) noteOn(local, `${kase} (fan-out)`, `CPU ${(viaHub.cpuUsPerReq.hub / floorRes.cpuUsPerReq.floor).toFixed(2)}× the floor's`)
        const ms = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`
        const both = viaHub !== undefined && direct !== undefined
        check(ctx, `N=${n} c=${c}: hub p50 ≤ member p50 + 1 ms`, both ? viaHub.p50Ms - direct.p50Ms : undefined, 1, '<=', ms)
        check(ctx, `N=${n} c=${c}: hub p99 ≤ member p99 + 5 ms (§9)`, both ? viaHub.p99Ms - direct.p99Ms : undefined, 5, '<=', ms)
        check(ctx, `N=${n} c=${c}: hub CPU ≤ 40 + 25·N = ${40 + 25 * n} µs/req (§9)`, viaHub?.cpuUsPerReq.hub, 40 + 25 * n, '<=', v => `${v.toFixed(1)} µs/req`)
      }
    } catch (err) {
      ctx.r.rows.push({ case: `repo/stat N=${n}`, target: 'hub', unit: 'req/s', error: firstLine(err) })
    } finally {
      await runCleanup(local.cleanup)
    }
  }
}

// ---------------------------------------------------------------------------------------
// S5: add of 1 GiB, teed to 3 members vs 1 member vs direct
// ---------------------------------------------------------------------------------------

const CHUNK = randomBytes(256 * 1024)

/** A multipart/form-data body of one file of `bytes` bytes, generated as it is read. */
function multipart (bytes: number): { body: Readable, contentType: string } {
  const boundary = `----supercluster-bench-${randomBytes(16).toString('hex')}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  function * parts (): Generator<Buffer> {
    yield head
    let left = bytes
    while (left > 0) {
      const n = Math.min(left, CHUNK.length)
      yield n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)
      left -= n
    }
    yield tail
  }
  return { body: Readable.from(parts(), { objectMode: false, highWaterMark: 4 }), contentType: `multipart/form-data; boundary=${boundary}` }
}

interface Upload {
  seconds: number
  mbPerSec: number
  probe?: Probe
}

/** One streaming upload; a non-200, an answer without a Hash or a stream-error trailer is a failure. */
async function upload (base: string, bytes: number, query = ''): Promise<Upload> {
  const { body, contentType } = multipart(bytes)
  const command = `POST /api/v0/add${query} (multipart, ${fmt(bytes / MiB)} MiB)`
  const t0 = performance.now()
  try {
    const r = await request(`${base}/api/v0/add${query}`, {
      method: 'POST', body, headers: { 'content-type': contentType }, headersTimeout: 600_000, bodyTimeout: 600_000,
    })
    const text = await r.body.text()
    const seconds = (performance.now() - t0) / 1000
    const trailer = r.trailers['x-stream-error']
    let failure: Probe | undefined
    if (r.statusCode !== 200) failure = { command, status: r.statusCode, body: text.slice(0, 2000) }
    else if (trailer !== undefined && trailer !== '') failure = { command, status: r.statusCode, body: `X-Stream-Error trailer: ${trailer}; body: ${text.slice(0, 1000)}` }
    else if (!text.includes('"Hash"')) failure = { command, status: r.statusCode, body: `no Hash in the answer: ${text.slice(0, 1000)}` }
    return { seconds, mbPerSec: bytes / 1e6 / seconds, probe: failure }
  } catch (err) {
    body.destroy()
    return { seconds: (performance.now() - t0) / 1000, mbPerSec: NaN, probe: { command, status: 0, body: `request failed: ${(err as Error).message}` } }
  }
}

async function s5 (ctx: Ctx): Promise<void> {
  const size = (ctx.quick ? 256 : 1024) * MiB
  const throttledSize = (ctx.quick ? 128 : 256) * MiB
  const throttle = 50_000_000
  const up = await startUpstreams(ctx, 's5-upstream', 3)
  const slow = await startUpstreams(ctx, 's5-upstream-throttled', 1, { throttleBytesPerSec: throttle })
  const sizeLabel = `${fmt(size / MiB)} MiB`

  // Direct: one member, no hub.
  await upload(up.urls[0], 8 * MiB)
  const t0 = cpuMicros(up.child.pid)
  const direct = await upload(up.urls[0], size)
  const directCpu = (cpuMicros(up.child.pid) - t0) / 1000 / (size / MiB)
  if (direct.probe !== undefined) ctx.r.rows.push({ case: `add ${sizeLabel}`, target: 'direct', unit: 'MB/s', error: recordFailure(ctx, 'add direct', direct.probe) })
  else ctx.r.rows.push({ case: `add ${sizeLabel}`, target: 'direct', rate: direct.mbPerSec, unit: 'MB/s', cpu: directCpu, cpuUnit: 'ms/MiB' })

  const viaHub = async (kase: string, urls: string[], replicas: number, bytes: number, statUrls: string[]): Promise<Row & { growth?: number }> => {
    let hub: Hub
    try {
      hub = await startHub(ctx, `s5-hub-${replicas}${kase.includes('50 MB/s') ? '-slow' : ''}`, urls, { min: replicas, max: replicas })
    } catch (err) {
      return { case: kase, target: 'hub', unit: 'MB/s', error: `hub did not start: ${firstLine(err)}` }
    }
    try {
      const warm = await upload(hub.url, 8 * MiB)
      if (warm.probe !== undefined) return { case: kase, target: 'hub', unit: 'MB/s', error: recordFailure(ctx, kase, warm.probe) }
      await sleep(300)
      const idle = rss(hub.pid).rss
      const before = await Promise.all(statUrls.map(upstreamStats))
      const sampler = new RssSampler(hub.pid)
      const c0 = cpuMicros(hub.pid)
      const u = await upload(hub.url, bytes)
      const cpu = (cpuMicros(hub.pid) - c0) / 1000 / (bytes / MiB)
      const peak = sampler.stop()
      const after = await Promise.all(statUrls.map(upstreamStats))
      const reached = after.filter((a, i) => a.addBytes - before[i].addBytes >= bytes).length
      if (u.probe !== undefined) return { case: kase, target: 'hub', unit: 'MB/s', error: recordFailure(ctx, kase, u.probe) }
      const growth = (peak - idle) / MiB
      const note = `${reached} member(s) got all bytes; idle RSS ${fmt(idle / MiB)} MiB, peak ${fmt(peak / MiB)} MiB${sampler.hwmReset ? '' : ' (sampled)'}`
      if (reached !== replicas) recordFailure(ctx, kase, { command: `POST /api/v0/add (${kase})`, status: 200, body: `expected ${replicas} member(s) to receive all ${bytes} bytes, ${reached} did` })
      return { case: kase, target: 'hub', rate: u.mbPerSec, unit: 'MB/s', cpu, cpuUnit: 'ms/MiB', rssGrowthMiB: growth, note, growth }
    } finally {
      await hub.stop()
    }
  }

  const hub1 = await viaHub(`add ${sizeLabel} → 1 member`, up.urls, 1, size, up.urls)
  hub1.ratio = hub1.rate !== undefined && direct.probe === undefined ? hub1.rate / direct.mbPerSec : undefined
  ctx.r.rows.push(hub1)
  const tee3 = await viaHub(`add ${sizeLabel} tee → 3 members`, up.urls, 3, size, up.urls)
  tee3.ratio = tee3.rate !== undefined && direct.probe === undefined ? tee3.rate / direct.mbPerSec : undefined
  ctx.r.rows.push(tee3)
  const slowUrls = [up.urls[0], up.urls[1], slow.urls[0]]
  const throttled = await viaHub(`add ${fmt(throttledSize / MiB)} MiB tee → 3, one at 50 MB/s`, slowUrls, 3, throttledSize, slowUrls)
  ctx.r.rows.push(throttled)

  check(ctx, 'tee→3 ingest ≥ 0.6× hub→1', tee3.rate !== undefined && hub1.rate !== undefined ? tee3.rate / hub1.rate : undefined, 0.6, '>=', n => `${n.toFixed(2)}×`)
  for (const row of [hub1, tee3, throttled]) {
    check(ctx, `${row.case}: hub peak RSS − idle ≤ 64 MiB`, row.growth, 64, '<=', n => `${n.toFixed(1)} MiB`)
  }
  check(ctx, 'throttled tee ingest follows the slowest member (≤ 1.2 × 50 MB/s)', throttled.rate, 60, '<=', n => `${n.toFixed(1)} MB/s`)
  for (const row of [hub1, tee3, throttled]) delete row.growth
}

// ---------------------------------------------------------------------------------------
// S7: pin/add burst
// ---------------------------------------------------------------------------------------

/** CIDv1 raw of sha256(`${seed}${i}`), i in [0, n). */
function makeCids (n: number, seed: string): string[] {
  const out = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    const hash = createHash('sha256').update(`${seed}${i}`).digest()
    out[i] = CID.createV1(0x55, Digest.create(0x12, hash)).toString()
  }
  return out
}

const pinPaths = (cids: string[]): string[] => cids.map(c => `/api/v0/pin/add?arg=${c}`)

/** The hub `start` gives; if it does not start, a row under `name` says so and the answer is undefined. */
async function hubOrRow (ctx: Ctx, name: string, start: () => Promise<Hub>): Promise<Hub | undefined> {
  try {
    return await start()
  } catch (err) {
    ctx.r.rows.push({ case: name, target: 'hub', unit: 'pins/s', error: `hub did not start: ${firstLine(err)}` })
    return undefined
  }
}

/** True if the hub burst `r` had a failure, which is then recorded and shown in a row under `name` (after `prefix`). */
function burstFailed (ctx: Ctx, name: string, r: BurstResult, prefix = ''): boolean {
  if (r.firstFailure === undefined) return false
  ctx.r.rows.push({ case: name, target: 'hub', unit: 'pins/s', error: `${prefix}${r.ok}/${r.count} ok; ${recordFailure(ctx, name, r.firstFailure)}` })
  return true
}

/** One burst of `paths` and the CPU process `pid` spent on it, in ms per path. */
async function cpuBurst (client: BurstClient, pid: number, paths: string[]): Promise<{ b: BurstResult, cpuMs: number }> {
  const c0 = cpuMicros(pid)
  const b = await client.run(paths)
  return { b, cpuMs: (cpuMicros(pid) - c0) / 1000 / paths.length }
}

async function s7 (ctx: Ctx): Promise<void> {
  const count = ctx.quick ? 2000 : 10_000
  const concurrency = 100
  // JIT and connections: a cold Node process is several times slower for its first few
  // thousand requests, on both sides.
  const warmCount = 5000
  const run = `${Date.now()}-`
  const up = await startUpstreams(ctx, 's7-upstream', 3)
  const kase = `pin/add ×${count} c=${concurrency}`

  const directClient = new BurstClient(up.urls[0], concurrency)
  let direct: BurstResult
  let directCpu: number
  try {
    await directClient.run(pinPaths(makeCids(warmCount, `${run}warm-direct-`)))
    const measured = await cpuBurst(directClient, up.child.pid, pinPaths(makeCids(count, `${run}direct-`)))
    direct = measured.b
    directCpu = measured.cpuMs
  } finally {
    await directClient.close()
  }
  if (direct.firstFailure !== undefined) ctx.r.rows.push({ case: kase, target: 'direct', unit: 'pins/s', error: recordFailure(ctx, kase, direct.firstFailure) })
  else ctx.r.rows.push({ case: kase, target: 'direct', rate: direct.perSec, unit: 'pins/s', p50Ms: direct.p50Ms, p99Ms: direct.p99Ms, cpu: directCpu, cpuUnit: 'ms/pin', note: 'one member' })

  // The thinnest Node forwarder in front of one member: what one call in and one out cost
  // here, the floor under the hub's CPU per pin (it writes no state and asks one member).
  const floor = await startFloor(ctx, 's7-floor', up.urls[0])
  const floorClient = new BurstClient(floor.url, concurrency)
  let floorCpu: number | undefined
  try {
    await floorClient.run(pinPaths(makeCids(warmCount, `${run}warm-floor-`)))
    const { b: f, cpuMs } = await cpuBurst(floorClient, floor.pid, pinPaths(makeCids(count, `${run}floor-`)))
    floorCpu = cpuMs
    if (f.firstFailure !== undefined) ctx.r.rows.push({ case: `${kase} (floor proxy)`, target: 'floor', unit: 'pins/s', error: recordFailure(ctx, `${kase} (floor proxy)`, f.firstFailure) })
    else ctx.r.rows.push({ case: `${kase} (floor proxy)`, target: 'floor', rate: f.perSec, unit: 'pins/s', p50Ms: f.p50Ms, p99Ms: f.p99Ms, cpu: floorCpu, cpuUnit: 'ms/pin', ratio: direct.firstFailure === undefined ? f.perSec / direct.perSec : undefined, note: 'thinnest Node forwarder, one member' })
  } finally {
    await floorClient.close()
  }

  const pinsNow = async (): Promise<number> => (await Promise.all(up.urls.map(upstreamStats))).reduce((a, s) => a + s.pins, 0)
  const waitPins = async (target: number, timeoutMs: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs
    let n = await pinsNow()
    while (n < target && Date.now() < deadline) { await sleep(50); n = await pinsNow() }
    return n
  }

  for (const max of [1, 2]) {
    const name = `${kase} (3 members, min 1 max ${max})`
    const hub = await hubOrRow(ctx, name, async () => await startHub(ctx, `s7-hub-max${max}`, up.urls, { min: 1, max }))
    if (hub === undefined) continue
    const client = new BurstClient(hub.url, concurrency)
    try {
      const w0 = await pinsNow()
      const warm = await client.run(pinPaths(makeCids(warmCount, `${run}warm-${max}-`)))
      if (burstFailed(ctx, name, warm, 'warm-up: ')) continue
      await waitPins(w0 + warmCount * max, 30_000)
      const paths = pinPaths(makeCids(count, `${run}hub-${max}-`))
      const p0 = await pinsNow()
      const h0 = cpuMicros(hub.pid)
      const b = await client.run(paths)
      // Background replicas (max > min) are hub work too: wait for them before reading CPU.
      const p1 = await waitPins(p0 + count * max, 60_000)
      const cpuMs = (cpuMicros(hub.pid) - h0) / 1000 / count
      if (burstFailed(ctx, name, b)) continue
      const reached = p1 - p0
      if (reached < count * max) recordFailure(ctx, name, { command: `POST /api/v0/pin/add ×${count}`, status: 200, body: `members received ${reached} pin/add, expected ${count * max} within 60 s` })
      ctx.r.rows.push({
        case: name, target: 'hub', rate: b.perSec, unit: 'pins/s', p50Ms: b.p50Ms, p99Ms: b.p99Ms, cpu: cpuMs, cpuUnit: 'ms/pin',
        ratio: direct.firstFailure === undefined ? b.perSec / direct.perSec : undefined,
        note: [`members got ${reached} pin/add`, floorCpu !== undefined ? `CPU ${(cpuMs / floorCpu).toFixed(2)}× the floor's` : undefined].filter(Boolean).join('; '),
      })
      check(ctx, `max ${max}: hub CPU ≤ 0.1 ms per pin (§9)`, cpuMs, 0.1, '<=', n => `${n.toFixed(3)} ms/pin`)
    } finally {
      await client.close()
      await hub.stop()
    }
  }
  await s7AcceptRate(ctx, run)
}

/**
 * §9's other S7 goal: with sub-clusters that accept "hundreds" of pins per second each,
 * the hub reaches ≥ 0.9× the sum of their accept rates. Each member answers after 20 ms
 * and the hub may have 8 calls in flight per member (its `concurrency`), so each accepts
 * 400 pins/s; the sum is measured in the same run by bursting at the three members
 * directly with 8 connections each.
 */
async function s7AcceptRate (ctx: Ctx, run: string): Promise<void> {
  const count = ctx.quick ? 2400 : 6000
  const perMember = 8
  const kase = `pin/add ×${count}, members 20 ms × ${perMember} in flight each`
  const up = await startUpstreams(ctx, 's7-slow-upstream', 3, { delayMs: 20 })
  const direct = up.urls.map(u => new BurstClient(u, perMember))
  let sum: number
  try {
    const third = Math.floor(count / 3)
    const t0 = performance.now()
    const results = await Promise.all(direct.map(async (client, i) => await client.run(pinPaths(makeCids(third, `${run}accept-direct-${i}-`)))))
    const failed = results.find(r => r.firstFailure !== undefined)
    if (failed?.firstFailure !== undefined) {
      ctx.r.rows.push({ case: kase, target: 'direct', unit: 'pins/s', error: recordFailure(ctx, kase, failed.firstFailure) })
      return
    }
    sum = (third * 3) / ((performance.now() - t0) / 1000)
    ctx.r.rows.push({ case: kase, target: 'direct', rate: sum, unit: 'pins/s', note: 'sum of the 3 members\' accept rates' })
  } finally {
    await Promise.all(direct.map(async c => { await c.close() }))
  }
  const name = `${kase} (hub, c=100, min 1 max 1)`
  const hub = await hubOrRow(ctx, name, async () => await startHub(ctx, 's7-hub-accept', up.urls, { min: 1, max: 1 }, undefined, perMember))
  if (hub === undefined) return
  const client = new BurstClient(hub.url, 100)
  try {
    await client.run(pinPaths(makeCids(600, `${run}accept-warm-`)))
    const { b, cpuMs } = await cpuBurst(client, hub.pid, pinPaths(makeCids(count, `${run}accept-hub-`)))
    if (burstFailed(ctx, name, b)) return
    ctx.r.rows.push({ case: name, target: 'hub', rate: b.perSec, unit: 'pins/s', p50Ms: b.p50Ms, p99Ms: b.p99Ms, cpu: cpuMs, cpuUnit: 'ms/pin', ratio: b.perSec / sum })
    check(ctx, 'pin/add end to end ≥ 0.9× the sum of the members\' accept rates (§9)', b.perSec / sum, 0.9, '>=', n => `${n.toFixed(2)}×`)
  } finally {
    await client.close()
    await hub.stop()
  }
}

// ---------------------------------------------------------------------------------------
// S8: durable pin/add ingest per state backend
// ---------------------------------------------------------------------------------------

/**
 * The same burst against three hubs that differ only in `hub.state`: `:memory:` (SQLite
 * in memory, nothing persisted: the baseline with state writes disabled), SQLite in WAL
 * on disk, and PostgreSQL with its crash safety on. Every acknowledged pin is an intent
 * written before the member is asked and an allocation written after it answered.
 */
async function s8 (ctx: Ctx): Promise<void> {
  const count = ctx.quick ? 5000 : 20_000
  const concurrency = 100
  const warmCount = 5000
  const run = `${Date.now()}-`
  const up = await startUpstreams(ctx, 's8-upstream', 3)
  const kase = (backend: string): string => `pin/add ×${count} c=${concurrency}, state ${backend}`

  let pgServer: PostgresServer | undefined
  try {
    const { startPostgres } = await import('../test/fixtures/postgres.js')
    pgServer = await startPostgres({ durable: true })
    const server = pgServer
    ctx.cleanup.push(async () => { await server.stop() })
  } catch (err) {
    ctx.r.rows.push({ case: kase('postgres'), target: 'hub', unit: 'pins/s', error: `no PostgreSQL: ${firstLine(err)}` })
  }

  // The first backend is the baseline; `goal` is the ingest rate its row must reach.
  const backends: Array<{ label: string, state: () => Promise<string | undefined>, goal?: string }> = [
    { label: ':memory: (no state writes)', state: async () => ':memory:' },
    { label: 'sqlite (WAL, disk)', state: async () => undefined, goal: 'SQLite: ≥ 2,000 acknowledged pins/s (issue #4)' },
  ]
  if (pgServer !== undefined) {
    const server = pgServer
    backends.push({ label: 'postgres (fsync on)', state: async () => await server.createDatabase() })
  }

  let baseline: BurstResult | undefined
  for (const [i, backend] of backends.entries()) {
    const name = kase(backend.label)
    const hub = await hubOrRow(ctx, name, async () => await startHub(ctx, `s8-hub-${i}`, up.urls, { min: 1, max: 1 }, await backend.state()))
    if (hub === undefined) continue
    const client = new BurstClient(hub.url, concurrency)
    try {
      const warm = await client.run(pinPaths(makeCids(warmCount, `${run}warm-${i}-`)))
      if (burstFailed(ctx, name, warm, 'warm-up: ')) continue
      const { b, cpuMs } = await cpuBurst(client, hub.pid, pinPaths(makeCids(count, `${run}hub-${i}-`)))
      if (burstFailed(ctx, name, b)) continue
      if (i === 0) baseline = b
      ctx.r.rows.push({
        case: name, target: 'hub', rate: b.perSec, unit: 'pins/s', p50Ms: b.p50Ms, p99Ms: b.p99Ms, cpu: cpuMs, cpuUnit: 'ms/pin',
        ratio: baseline !== undefined ? b.perSec / baseline.perSec : undefined,
        note: i === 0 ? 'baseline: nothing persisted' : `p99 ${baseline !== undefined ? (b.p99Ms / baseline.p99Ms).toFixed(2) : '?'}× the baseline's`,
      })
      if (backend.goal !== undefined) check(ctx, backend.goal, b.perSec, 2000, '>=', n => `${Math.round(n)} pins/s`)
    } finally {
      await client.close()
      await hub.stop()
    }
  }
}

// ---------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------

const SCENARIOS: Record<string, { title: (quick: boolean) => string, run: (ctx: Ctx) => Promise<void> }> = {
  S1: { title: q => `passthrough of a small command vs direct (c=50 and c=10, ${q ? 3 : 10} s each)`, run: s1 },
  S2: { title: q => `repo/stat?size-only fan-out to N = 1, 3, 8 members with 20 ms delay (c=10 and c=100, ${q ? 3 : 10} s each)`, run: s2 },
  S5: { title: q => `add of ${q ? '256 MiB' : '1 GiB'}: tee to 3 members vs hub → 1 vs direct, one streaming upload`, run: s5 },
  S7: { title: q => `pin/add burst of ${q ? '2k' : '10k'} distinct CIDs at concurrency 100 to a hub with 3 members`, run: s7 },
  S8: { title: q => `durable pin/add ingest of ${q ? '5k' : '20k'} pins per state backend (:memory:, SQLite, PostgreSQL)`, run: s8 },
}

function firstLine (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300)
}

async function runCleanup (steps: Array<() => Promise<void>>): Promise<void> {
  for (const step of steps.reverse()) {
    try { await step() } catch (err) { process.stderr.write(`bench: cleanup: ${firstLine(err)}\n`) }
  }
}

async function runScenario (id: string, quick: boolean): Promise<ScenarioResult> {
  const s = SCENARIOS[id]
  const r: ScenarioResult = { id, title: s.title(quick), rows: [], checks: [], failures: [], seconds: 0, loadavgAtStart: loadavg()[0] }
  const ctx: Ctx = { quick, r, cleanup: [], warmed: new Set() }
  const t0 = performance.now()
  process.stderr.write(`bench: ${id} ${r.title} …\n`)
  try {
    await s.run(ctx)
  } catch (err) {
    r.error = err instanceof Error ? err.message : String(err)
  } finally {
    await runCleanup(ctx.cleanup)
    r.seconds = (performance.now() - t0) / 1000
  }
  return r
}

function render (r: ScenarioResult): string {
  const out: string[] = [`${r.id}  ${r.title}  [${r.seconds.toFixed(0)} s, load average ${r.loadavgAtStart.toFixed(2)} at start]`]
  if (r.rows.length > 0) {
    out.push(table(
      ['case', 'target', 'rate', 'unit', 'p50 ms', 'p99 ms', 'CPU', 'CPU unit', 'vs direct', 'RSS +MiB', 'note'],
      r.rows.map(x => [
        x.case, x.target, x.error !== undefined ? 'ERROR' : fmt(x.rate), x.unit,
        fmt(x.p50Ms, 2), fmt(x.p99Ms, 2), fmt(x.cpu, x.cpuUnit === 'µs/req' ? 1 : 3), x.cpuUnit ?? '',
        x.ratio !== undefined ? `${x.ratio.toFixed(2)}×` : '', x.rssGrowthMiB !== undefined ? fmt(x.rssGrowthMiB, 1) : '',
        x.error ?? x.note ?? '',
      ]),
    ))
  }
  for (const c of r.checks) out.push(`  [${c.pass === undefined ? 'n/a ' : c.pass ? 'PASS' : 'FAIL'}] ${c.goal}: ${c.measured}`)
  if (r.error !== undefined) out.push(`  ERROR: ${r.error.split('\n').slice(0, 6).join('\n         ')}`)
  for (const f of r.failures) out.push(`  hub failure (${f.case}): ${f.command} → status ${f.status}: ${f.body.replace(/\s+/g, ' ').slice(0, 400)}`)
  return out.join('\n')
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help === true) {
    process.stdout.write(`usage: npm run bench -- [--scenario ${Object.keys(SCENARIOS).join(',')}] [--quick]\n`)
    return
  }
  const ids = (values.scenario ?? Object.keys(SCENARIOS).join(',')).split(',').map(s => s.trim().toUpperCase()).filter(Boolean)
  const unknown = ids.filter(id => SCENARIOS[id] === undefined)
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`)
    process.exitCode = 2
    return
  }
  const quick = values.quick === true
  const startedAt = new Date().toISOString()
  const results: ScenarioResult[] = []
  for (const id of ids) {
    const r = await runScenario(id, quick)
    results.push(r)
    process.stdout.write(`\n${render(r)}\n`)
  }
  const checks = results.flatMap(r => r.checks)
  const summary = {
    pass: checks.filter(c => c.pass === true).length,
    fail: checks.filter(c => c.pass === false).length,
    notMeasured: checks.filter(c => c.pass === undefined).length,
    hubFailures: results.reduce((a, r) => a + r.failures.length, 0),
    scenarioErrors: results.filter(r => r.error !== undefined).map(r => r.id),
  }
  process.stdout.write(`\ngoals: ${summary.pass} pass, ${summary.fail} fail, ${summary.notMeasured} not measured; hub failures: ${summary.hubFailures}\n`)
  mkdirSync(RESULTS, { recursive: true })
  const file = join(RESULTS, 'latest.json')
  writeFileSync(file, JSON.stringify({
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    notes: 'rates are measured against a direct call in the same run; CPU is the serving process (hub for hub rows, fake member for direct rows), from /proc/<pid>/stat',
    summary,
    scenarios: results,
  }, null, 2) + '\n')
  process.stdout.write(`results written to ${file}\n`)
}

await main()
