/**
 * The observability pieces in-process: the recent-errors ring and its scrubbing, the
 * cached under-replication census, request ids and the logger (request id on lines,
 * secrets redacted), the status page's escaping and its CSP hashes, and the new gauges
 * and the page through the hub's routes.
 */
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { RecentErrors, scrub } from '../../src/hub/recent-errors.js'
import { ReplicationCensus } from '../../src/hub/census.js'
import { BACKGROUND, logFields, requestIdFrom } from '../../src/request-context.js'
import { createLogger } from '../../src/log.js'
import { renderStatus, statusPage, STATUS_PAGE_HEADERS } from '../../src/hub/ui.js'
import type { StatusReport } from '../../src/hub/status-report.js'
import { HELLO_WORLD } from '../fixtures/cids.js'
import { testHub } from './helpers.js'
import { until } from '../fixtures/wait.js'
import { parseTopology } from '../../src/topology/index.js'
import { createHubComponents } from '../../src/hub/start.js'
import { createHubApp } from '../../src/hub/app.js'
import { silentLogger } from '../../src/log.js'

describe('recent errors', () => {
  it('scrubs credentials and CIDs, keeps one line of at most 300 characters', () => {
    expect(scrub('GET http://admin:hunter2@10.0.0.1:9095/api failed')).toBe('GET http://***@10.0.0.1:9095/api failed')
    expect(scrub('sent Authorization: Bearer abc.def.ghi')).toBe('sent Authorization: Bearer ***')
    expect(scrub('token=abc123&x=1 password: pw')).toBe('token=***&x=1 password: ***')
    expect(scrub(`pin ${HELLO_WORLD.v0} and ${HELLO_WORLD.v1!} failed`)).toBe('pin <cid> and <cid> failed')
    expect(scrub('two\nlines')).toBe('two lines')
    expect(scrub('x'.repeat(1000))).toHaveLength(300)
  })

  it('keeps the last N, newest first', () => {
    const ring = new RecentErrors(3)
    expect(ring.list()).toEqual([])
    for (let i = 1; i <= 5; i++) ring.add({ kind: 'member', member: `m${i}`, message: `e${i}` }, i)
    expect(ring.list().map(e => [e.at, e.member, e.message])).toEqual([[5, 'm5', 'e5'], [4, 'm4', 'e4'], [3, 'm3', 'e3']])
  })
})

describe('pins being driven', () => {
  it('count as pinning on the status page and in member_pins while the store keeps them queued', async () => {
    const hub = await testHub({ replication: { min: 1, max: 1 } })
    onTestFinished(async () => { await hub.close() })
    for (const m of hub.mocks) m.setFault('pin/add', { kind: 'delay', ms: 1_500 })
    const pinned = hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`)
    const member = await until('the pin to reach a member', async () => hub.mocks.find(m => m.count('pin/add') > 0)?.name)
    const during = await (await hub.app.request('/supercluster/v1/status')).json() as StatusReport
    expect(during.members.find(m => m.name === member)?.pins).toEqual({ pinning: 1 })
    expect((await hub.h.store.allocations(HELLO_WORLD.v0)).map(a => a.status)).toEqual(['queued'])
    expect(await (await hub.app.request('/metrics')).text()).toContain(`supercluster_member_pins{member="${member}",status="pinning"} 1`)
    expect((await pinned).status).toBe(200)
    const after = await (await hub.app.request('/supercluster/v1/status')).json() as StatusReport
    expect(after.members.find(m => m.name === member)?.pins).toEqual({ pinned: 1 })
  })
})

describe('under-replication census', () => {
  it('counts once per max age, serves the last count while recounting, and survives a failed recount', async () => {
    let calls = 0
    let fail = false
    const census = new ReplicationCensus({
      underReplicated: async () => {
        calls++
        await sleep(5)
        if (fail) throw new Error('store closed')
        return calls * 10
      },
    }, 50)
    expect(await census.underReplicated()).toBe(10) // the first caller waits
    expect(await census.underReplicated()).toBe(10)
    expect(calls).toBe(1)
    await sleep(60)
    expect(await census.underReplicated()).toBe(10) // stale: served, recount started
    await sleep(20)
    expect(await census.underReplicated()).toBe(20)
    expect(calls).toBe(2)
    fail = true
    await sleep(60)
    expect(await census.underReplicated()).toBe(20)
    await sleep(20)
    expect(await census.underReplicated()).toBe(20) // the failed recount kept the last value
  })
})

describe('request ids and the logger', () => {
  it('takes a plain client id, replaces anything else with a UUID', () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z')
    for (const bad of [undefined, null, '', 'has space', 'a"b', 'x'.repeat(129), 'line\nbreak']) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('puts a request\'s id on the lines written for it, and redacts headers and credentials', () => {
    let out = ''
    const sink = new Writable({ write (chunk: Buffer, _enc, done) { out += chunk.toString(); done() } })
    const log = createLogger('debug', sink)
    const scope = { id: 'req-42', via: [] }
    log.info({ ...logFields(BACKGROUND) }, 'outside')
    log.warn({ ...logFields(scope), headers: { authorization: 'Bearer S1', 'x-api-key': 'S2' } }, 'inside')
    log.warn({ ...logFields(scope), member: { headers: { Authorization: 'Bearer S3' } }, spec: { name: 'm', headers: { Cookie: 'S4' } } }, 'nested')
    log.warn({ ...logFields(scope), token: 'S5', cfg: { password: 'S6', secret: 'S7' } }, 'credentials')
    const lines = out.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map(l => [l.msg, l.reqId])).toEqual([['outside', undefined], ['inside', 'req-42'], ['nested', 'req-42'], ['credentials', 'req-42']])
    for (const secret of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7']) expect(out).not.toContain(secret)
    expect(lines[2]).toMatchObject({ spec: { name: 'm', headers: '***' } })
  })
})

const hostile = '<script>alert(1)</script>"\'&'

function report (overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    hub: { id: 'hub-1', peerId: '12D3Koo' },
    intents: { pending: 2, oldestAgeSeconds: 90 },
    underReplicated: 1,
    recentErrors: [{ at: 0, kind: 'request', command: 'pin/add', message: hostile }],
    members: [
      { name: 'a', kind: 'kubo', urls: [], up: true, breaker: 'closed', pins: { pinned: 3 }, queueDepth: 0, repoSize: '1000', storageMax: '10000' },
      { name: 'b', kind: hostile, urls: [], up: false, breaker: 'open', pins: {}, queueDepth: 1, lastError: hostile },
      { name: 'c', kind: 'cluster-proxy', urls: [], up: true, breaker: 'half-open', pins: { [hostile]: 1 }, queueDepth: 0 },
    ],
    ...overrides,
  }
}

describe('status page', () => {
  it('escapes every value it renders and marks each member\'s state', () => {
    const html = renderStatus(report(), 0)
    expect(html).not.toContain('<script>')
    expect(html).not.toMatch(/"'&(?!amp;|lt;|gt;|quot;|#39;)/)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;')
    expect(html).toMatch(/data-member="a" data-state="up"/)
    expect(html).toMatch(/data-member="b" data-state="down"/)
    expect(html).toMatch(/data-member="c" data-state="trial"/)
    expect(html).toContain('9.0 KB free of 10.0 KB')
    expect(html).toContain('2 pending, oldest 90 s')
  })

  it('allows exactly its own script and style by hash', () => {
    const page = statusPage(report({ hub: { id: '<hub>', peerId: 'p' } }), 0)
    const script = /<script>([\s\S]*)<\/script>/.exec(page)![1]
    const style = /<style>([\s\S]*)<\/style>/.exec(page)![1]
    const sha = (t: string): string => `'sha256-${createHash('sha256').update(t).digest('base64')}'`
    const csp = STATUS_PAGE_HEADERS['Content-Security-Policy']
    expect(csp).toContain(`script-src ${sha(script)};`)
    expect(csp).toContain(`style-src ${sha(style)};`)
    expect(csp).toContain("default-src 'none'")
    expect(page).toContain('<title>supercluster hub &#60;hub&#62;</title>')
    // the script carries the same render function the server used
    expect(script).toContain(renderStatus.toString())
  })

  it('is served by the hub with its headers, and the status JSON has backlog and errors', async () => {
    const hub = await testHub()
    onTestFinished(hub.close)
    const res = await hub.app.request('/supercluster/ui')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('content-security-policy')).toBe(STATUS_PAGE_HEADERS['Content-Security-Policy'])
    const html = await res.text()
    for (const m of ['m0', 'm1', 'm2']) expect(html).toContain(`data-member="${m}"`)
    const status = await (await hub.app.request('/supercluster/v1/status')).json() as StatusReport
    expect(status.intents).toEqual({ pending: 0, oldestAgeSeconds: 0 })
    expect(status.underReplicated).toBe(0)
    expect(status.recentErrors).toEqual([])
  })
})

describe('metrics through the routes', () => {
  it('exports breaker state, probe latency, storage max, intents and under-replication', async () => {
    const hub = await testHub({ replication: { min: 2, max: 2 } })
    onTestFinished(hub.close)
    await hub.h.monitor.probeAll()
    hub.mocks[1].setFault('pin/add', { kind: 'status', status: 500, message: 'no room' })
    hub.mocks[2].setFault('pin/add', { kind: 'status', status: 500, message: 'no room' })
    await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`) // min 2 cannot be met: intents stay pending
    hub.h.monitor.report('m2', false, new Error('reset'))
    const text = await (await hub.app.request('/metrics')).text()
    expect(text).toMatch(/supercluster_member_breaker_state\{member="m0"\} 0/)
    expect(text).toMatch(/supercluster_member_breaker_state\{member="m2"\} 2/)
    expect(text).toMatch(/supercluster_member_latency_seconds\{member="m0"\} \d/)
    expect(text).toMatch(/supercluster_member_storage_max_bytes\{member="m0"\} 10000000000/)
    expect(text).toMatch(/supercluster_intents_pending [1-9]/)
    expect(text).toMatch(/supercluster_intent_oldest_age_seconds \d/)
    expect(text).toMatch(/supercluster_pins_under_replicated 1/)
    expect(text).toMatch(/supercluster_topology_generation 1/)
    expect(text).toMatch(/supercluster_topology_reloads_total\{result="invalid"\} 0/)
    expect(text).toMatch(/supercluster_loop_rejections_total\{reason="loop"\} 0/)
    expect(text).toMatch(/supercluster_process_cpu_seconds_total/)
  })
})

describe('request ids through passthrough', () => {
  it('sends the id to the member and keeps a member\'s echo of it out of the answer', async () => {
    const seen: Array<string | undefined> = []
    // A member that echoes the id, as a hub below does.
    const member = createServer((req, res) => {
      const id = req.headers['x-request-id'] as string | undefined
      seen.push(id)
      res.writeHead(200, { 'Content-Type': 'application/json', ...(id !== undefined ? { 'X-Request-Id': id } : {}) })
      res.end('{"Peers":[]}\n')
    })
    await new Promise<void>(resolve => member.listen(0, '127.0.0.1', resolve))
    onTestFinished(async () => { await new Promise(resolve => member.close(resolve)) })
    const url = `http://127.0.0.1:${(member.address() as AddressInfo).port}`
    const topology = parseTopology(`version: 1
hub: { id: h, state: ':memory:' }
defaults: { health: { interval: 1h, timeout: 1s, failures: 3 } }
members:
  - { name: echo, kind: kubo, url: ${url} }
passthrough: echo
`, 'test.yaml')
    const { components, dispose } = await createHubComponents(topology, { log: silentLogger() })
    onTestFinished(dispose)
    const app = createHubApp(components, { apiPort: () => 5001 })
    const res = await app.request('/api/v0/swarm/peers', { method: 'POST', headers: { 'X-Request-Id': 'pass-1' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ Peers: [] })
    expect(res.headers.get('x-request-id')).toBeNull()
    expect(seen).toEqual(['pass-1'])
  })
})
