/**
 * Loop safety: the via chain header is parsed, checked (loop, depth cap) before any member
 * is asked, refused with 508 in Kubo's error shape on both APIs, carried on every member
 * request made for the request (own id alone for background work), and a member's 508
 * reaches the client untouched: no failover, no spare, no breaker count.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { testHub, multipart, type TestHub } from './helpers.js'
import { HELLO_WORLD } from '../fixtures/cids.js'
import { eventually } from '../fixtures/wait.js'
import { ViaChain, parseVia } from '../../src/hub/via.js'
import { BACKGROUND } from '../../src/request-context.js'

let hub: TestHub | undefined
afterEach(async () => { await hub?.close(); hub = undefined })

const LOOP = { kind: 'status', status: 508, message: 'request loop: hub "below" is already in the chain x,below' } as const
const viaOf = (t: TestHub, i: number, cmd: string): Array<string | string[] | undefined> =>
  t.mocks[i].requests.filter(r => r.path === cmd).map(r => r.headers['x-supercluster-via'])
const total = (t: TestHub, cmd: string): number => t.mocks.reduce((n, m) => n + m.count(cmd), 0)
async function rejections (t: TestHub): Promise<Record<string, number>> {
  const metric = await t.h.metrics.loopRejections.get()
  // Both reasons start at 0 (so Prometheus sees the first increase); only counted ones matter here.
  return Object.fromEntries(metric.values.filter(v => v.value > 0).map(v => [String(v.labels.reason), v.value]))
}

describe('parseVia', () => {
  it('reads comma-separated hub ids, trimmed, blanks dropped', () => {
    expect(parseVia(undefined)).toEqual([])
    expect(parseVia('')).toEqual([])
    expect(parseVia('top')).toEqual(['top'])
    expect(parseVia(' top , mid,,  low ')).toEqual(['top', 'mid', 'low'])
  })
})

describe('ViaChain', () => {
  const via = new ViaChain({ hub: () => ({ id: 'me', maxDepth: 3 }) })

  it('refuses its own id anywhere in the chain, and chains of max_depth hubs', () => {
    expect(via.refusal(['a', 'b'])).toBeUndefined()
    expect(via.refusal(['me'])?.message).toBe('request loop: hub "me" is already in the chain me')
    expect(via.refusal(['a', 'me', 'b'])).toMatchObject({ status: 508, reason: 'loop' })
    const deep = via.refusal(['a', 'b', 'c'])
    expect(deep).toMatchObject({ status: 508, reason: 'depth' })
    expect(deep?.message).toMatch(/hub\.max_depth 3/)
  })

  it('sends the inbound chain plus its own id, and its own id alone for background work', () => {
    expect(via.outbound(BACKGROUND)).toBe('me')
    expect(via.outbound({ id: 'r1', via: ['top', 'mid'] })).toBe('top,mid,me')
    expect(via.outbound({ id: 'r2', via: [] })).toBe('me')
  })

  it('admits an empty or clean chain, throws the refusal and counts it otherwise', () => {
    const seen: string[] = []
    const counting = new ViaChain({ hub: () => ({ id: 'me', maxDepth: 3 }), onReject: (reason) => { seen.push(reason) } })
    expect(() => { counting.admit([]) }).not.toThrow()
    expect(() => { counting.admit(['top']) }).not.toThrow()
    expect(() => { counting.admit(['top', 'me']) }).toThrow(/request loop/)
    expect(() => { counting.admit(['a', 'b', 'c']) }).toThrow(/too deep/)
    expect(seen).toEqual(['loop', 'depth'])
  })
})

describe('508 before any member is asked', () => {
  it('refuses a chain holding this hub, in Kubo\'s error shape, on the Kubo API', async () => {
    hub = await testHub()
    const res = await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`, { headers: { 'X-Supercluster-Via': 'top,test-hub' } })
    expect(res.status).toBe(508)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.text()).toBe('{"Message":"request loop: hub \\"test-hub\\" is already in the chain top,test-hub","Code":0,"Type":"error"}\n')
    expect(hub.mocks.reduce((n, m) => n + m.count('*'), 0)).toBe(0)
    expect(await rejections(hub)).toEqual({ loop: 1 })
    const requests = await hub.h.metrics.hubRequests.get()
    expect(requests.values.find(v => v.labels.command === 'pin/add')).toMatchObject({ labels: { outcome: 'error' }, value: 1 })
  })

  it('refuses a chain of hub.max_depth hubs and lets a shorter one through', async () => {
    hub = await testHub({ maxDepth: 2 })
    const deep = await hub.post('/api/v0/version', { headers: { 'x-supercluster-via': 'a, b' } })
    expect(deep.status).toBe(508)
    const body = await deep.json() as { Message: string, Code: number, Type: string }
    expect(body).toMatchObject({ Code: 0, Type: 'error' })
    expect(body.Message).toBe('hierarchy too deep: the request has passed 2 hubs (a,b); hub "test-hub" has hub.max_depth 2')
    expect((await hub.post('/api/v0/version', { headers: { 'x-supercluster-via': 'a' } })).status).toBe(200)
    expect((await hub.post('/api/v0/version')).status).toBe(200)
    expect(await rejections(hub)).toEqual({ depth: 1 })
  })

  it('guards the admin API the same way', async () => {
    hub = await testHub()
    const res = await hub.app.request('/supercluster/v1/status', { headers: { 'x-supercluster-via': 'test-hub' } })
    expect(res.status).toBe(508)
    expect(await res.json()).toEqual({ Message: 'request loop: hub "test-hub" is already in the chain test-hub', Code: 0, Type: 'error' })
    expect((await hub.app.request('/supercluster/v1/status', { headers: { 'x-supercluster-via': 'top' } })).status).toBe(200)
  })
})

describe('the chain on member requests', () => {
  it('carries the inbound chain plus this hub on fan-out, queues, the add tee and passthrough', async () => {
    hub = await testHub({ replication: { min: 3, max: 3 } })
    const headers = { 'x-supercluster-via': 'top' }
    expect((await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`, { headers })).status).toBe(200)
    const { body, contentType } = multipart([{ name: 'a.txt', content: 'via chain\n' }])
    expect((await hub.post('/api/v0/add', { body, headers: { ...headers, 'content-type': contentType } })).status).toBe(200)
    await hub.post('/api/v0/swarm/peers', { headers })
    for (const i of [0, 1, 2]) {
      // Kubo members are asked offline first, then (lacking the content) online: both carry it.
      expect(new Set(viaOf(hub, i, 'pin/add'))).toEqual(new Set(['top,test-hub']))
      expect(viaOf(hub, i, 'add')).toEqual(['top,test-hub'])
    }
    expect(viaOf(hub, 0, 'swarm/peers')).toEqual(['top,test-hub'])
  })

  it('carries it on the copies that finish after the answer (min 1, max 3)', async () => {
    hub = await testHub({ replication: { min: 1, max: 3 } })
    const t = hub
    expect((await t.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`, { headers: { 'x-supercluster-via': 'top', 'x-request-id': 'req-bg' } })).status).toBe(200)
    await eventually(async () => { expect(t.mocks.filter(m => m.pins.has(HELLO_WORLD.v0))).toHaveLength(3) })
    for (const i of [0, 1, 2]) {
      expect(new Set(viaOf(t, i, 'pin/add'))).toEqual(new Set(['top,test-hub']))
      expect(new Set(t.mocks[i].requests.filter(r => r.path === 'pin/add').map(r => r.headers['x-request-id']))).toEqual(new Set(['req-bg']))
    }
  })

  it('sends this hub alone for a client\'s request and for background work', async () => {
    hub = await testHub({ replication: { min: 3, max: 3 } })
    expect((await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`)).status).toBe(200)
    await hub.h.monitor.probeAll()
    for (const i of [0, 1, 2]) {
      expect(new Set(viaOf(hub, i, 'pin/add'))).toEqual(new Set(['test-hub']))
      expect(viaOf(hub, i, 'version')).toEqual(['test-hub'])
    }
  })
})

describe('a member answering 508', () => {
  it('is passed through on passthrough', async () => {
    hub = await testHub()
    hub.mocks[0].setFault('dag/import', LOOP)
    const res = await hub.post('/api/v0/dag/import')
    expect(res.status).toBe(508)
    expect(((await res.json()) as { Message: string }).Message).toBe(LOOP.message)
  })

  it('is the answer of a routed read: the next holder is not tried', async () => {
    hub = await testHub()
    for (const m of hub.mocks) m.setFault('cat', LOOP)
    const res = await hub.post(`/api/v0/cat?arg=${HELLO_WORLD.v0}`)
    expect(res.status).toBe(508)
    expect(total(hub, 'cat')).toBe(1)
  })

  it('fails a pin with 508 without trying a spare, and leaves the breaker closed', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    for (const m of hub.mocks) m.setFault('pin/add', LOOP)
    const res = await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`)
    expect(res.status).toBe(508)
    expect(((await res.json()) as { Message: string }).Message).toBe(LOOP.message)
    expect(total(hub, 'pin/add')).toBe(1)
    for (const m of hub.mocks) m.setFault('version', LOOP)
    await hub.h.monitor.probeAll()
    for (const m of hub.mocks) {
      expect(hub.h.monitor.isUp(m.name)).toBe(true)
      expect(hub.h.monitor.health(m.name)?.consecutiveFailures).toBe(0)
    }
  })

  it('fails repo/stat and add with 508', async () => {
    hub = await testHub({ replication: { min: 1, max: 2 } })
    hub.mocks[1].setFault('repo/stat', LOOP)
    expect((await hub.post('/api/v0/repo/stat')).status).toBe(508)
    for (const m of hub.mocks) m.setFault('add', LOOP)
    const { body, contentType } = multipart([{ name: 'a.txt', content: 'loop below\n' }])
    const res = await hub.post('/api/v0/add', { body, headers: { 'content-type': contentType } })
    expect(res.status).toBe(508)
  })
})

describe('repo/stat leaves', () => {
  it('adds the leaves it summed for another hub only; a client gets Kubo\'s fields', async () => {
    hub = await testHub({ mock: (i) => ({ repoSize: BigInt(100 * (i + 1)), storageMax: 1000n }) })
    const plain = await hub.post('/api/v0/repo/stat')
    const value = await plain.json() as Record<string, unknown>
    expect(Object.keys(value)).toEqual(['RepoSize', 'StorageMax', 'NumObjects', 'RepoPath', 'Version'])
    expect(value.RepoSize).toBe(600)
    const fromHub = await hub.post('/api/v0/repo/stat', { headers: { 'x-supercluster-via': 'top' } })
    const withLeaves = await fromHub.json() as { RepoSize: number, SuperclusterLeaves: Array<{ Id: string, RepoSize: number }> }
    expect(withLeaves.RepoSize).toBe(600)
    expect(withLeaves.SuperclusterLeaves.map(l => [l.Id, l.RepoSize]).sort()).toEqual(hub.mocks.map((m, i) => [m.peerId, 100 * (i + 1)]).sort())
  })
})
