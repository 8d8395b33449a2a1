/**
 * Route tests: the hub's Kubo RPC surface through `app.request()`, in front of three
 * kubo-mock members on real loopback sockets.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { testHub, multipart, lines, type TestHub } from './helpers.js'
import { HELLO_WORLD, makeCids } from '../fixtures/cids.js'
import { collect, until } from '../fixtures/wait.js'
import { request } from 'undici'
import { randomBytes } from 'node:crypto'
import { startKuboMock, type KuboMock } from '../fixtures/kubo-mock.js'

let hub: TestHub | undefined
afterEach(async () => { await hub?.close(); hub = undefined })

const holders = (t: TestHub, cid: string): string[] => t.mocks.filter(m => m.pins.has(cid)).map(m => m.name)

/** What a Kubo node answers for the same add (kubo-mock follows Kubo's event rules). */
async function kuboAnswer (query: string, body: Uint8Array, contentType: string): Promise<unknown[]> {
  const ref = await startKuboMock({ name: 'reference' })
  try {
    const res = await fetch(`${ref.url}/api/v0/add${query}`, { method: 'POST', body, headers: { 'Content-Type': contentType } })
    return lines(await res.text())
  } finally {
    await ref.close()
  }
}

describe('transport rules', () => {
  it('answers GET and HEAD with 405 text/plain and Allow', async () => {
    hub = await testHub()
    for (const method of ['GET', 'HEAD', 'PUT']) {
      const res = await hub.app.request('/api/v0/version', { method })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('OPTIONS, POST')
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      if (method !== 'HEAD') expect(await res.text()).toBe('405 - Method Not Allowed\n')
    }
  })

  it('frames its plain-text errors as Go does', async () => {
    hub = await testHub()
    const head = await hub.app.request('/api/v0/version', { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe(String('405 - Method Not Allowed\n'.length))
    const outside = await hub.app.request('/nothing-here', { method: 'POST' })
    expect(outside.status).toBe(404)
    expect(outside.headers.get('vary')).toBeNull()
    const badEncoding = await hub.post('/api/v0/version?encoding=foo')
    expect(badEncoding.status).toBe(400)
    expect(badEncoding.headers.get('server')).not.toBeNull()
    const badOption = await hub.post('/api/v0/repo/stat?size-only=maybe')
    expect(badOption.status).toBe(400)
    expect(badOption.headers.get('server')).toBeNull()
    expect((await hub.app.request('/api/v0/version', { method: 'GET' })).headers.get('server')).toBeNull()
  })

  it('grants preflight headers only when asked, echoing them', async () => {
    hub = await testHub()
    const preflight = async (headers: Record<string, string>): Promise<Response> =>
      await hub!.app.request('/api/v0/pin/add', { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:5001', 'Access-Control-Request-Method': 'POST', ...headers } })
    const plain = await preflight({})
    expect(plain.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5001')
    expect(plain.headers.get('access-control-allow-headers')).toBeNull()
    const asked = await preflight({ 'Access-Control-Request-Headers': 'content-type, authorization' })
    expect(asked.headers.get('access-control-allow-headers')).toBe('content-type, authorization')
    const odd = await preflight({ 'Access-Control-Request-Headers': 'x-something-else' })
    expect(odd.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('words a timeout as Kubo does for the command', async () => {
    hub = await testHub()
    for (const m of hub.mocks) m.setFault('pin/add', { kind: 'hang' })
    const res = await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}&timeout=200ms`)
    expect(res.status).toBe(500)
    expect(((await res.json()) as { Message: string }).Message).toBe('pin: context deadline exceeded')
  })

  it('answers version itself with strict semver and Kubo headers', async () => {
    hub = await testHub()
    const res = await hub.post('/api/v0/version')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(res.headers.get('trailer')).toBe('X-Stream-Error')
    expect(res.headers.get('vary')).toBe('Origin')
    const text = await res.text()
    expect(text.endsWith('}\n')).toBe(true)
    expect((JSON.parse(text) as { Version: string }).Version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(hub.mocks[0].count('version')).toBe(0)
  })

  it('enforces the Origin, Referer and User-Agent checks', async () => {
    hub = await testHub()
    expect((await hub.post('/api/v0/version', { headers: { Origin: 'https://evil.example.com' } })).status).toBe(403)
    expect((await hub.post('/api/v0/version', { headers: { Referer: 'https://evil.example.com/page' } })).status).toBe(403)
    const moz = await hub.post('/api/v0/version', { headers: { 'User-Agent': 'Mozilla/5.0' } })
    expect(moz.status).toBe(403)
    expect(await moz.text()).toBe('403 - Forbidden\n')
    expect((await hub.post('/api/v0/version', { headers: { 'User-Agent': 'Mozilla/5.0 Electron/30' } })).status).toBe(200)
    for (const origin of ['http://127.0.0.1:5001', 'http://localhost:5001', 'http://[::1]:5001']) {
      expect((await hub.post('/api/v0/version', { headers: { Origin: origin } })).status).toBe(200)
    }
    // a forbidden request must not reach a member
    await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}`, { headers: { Origin: 'https://evil.example.com' } })
    expect(hub.mocks.reduce((n, m) => n + m.count('pin/add'), 0)).toBe(0)
  })

  it('rejects bad options and missing arguments with 400 text/plain', async () => {
    hub = await testHub()
    const missing = await hub.post('/api/v0/pin/add')
    expect(missing.status).toBe(400)
    expect(await missing.text()).toBe('argument "ipfs-path" is required\n')
    const badBool = await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}&recursive=yes`)
    expect(badBool.status).toBe(400)
    expect(await badBool.text()).toBe('could not convert value "yes" to type "bool" (for option "-recursive")\n')
    // Over HTTP Kubo files an alias under the long name: both together are no error.
    const dup = await hub.post(`/api/v0/pin/add?arg=${HELLO_WORLD.v0}&r=true&recursive=yes`)
    expect(await dup.text()).toBe('could not convert value "yes" to type "bool" (for option "-recursive")\n')
    const twice = await hub.post('/api/v0/repo/stat?size-only=true&size-only=false')
    expect(await twice.text()).toBe('expected key size-only to have only a single value, received [true false]\n')
    const enc = await hub.post('/api/v0/version?encoding=foo')
    expect(await enc.text()).toBe('invalid encoding: foo\n')
    const noFile = await hub.post('/api/v0/add')
    expect(noFile.status).toBe(400)
    expect(await noFile.text()).toBe("file argument 'path' is required\n")
  })

  it('answers a malformed CID with a Kubo JSON error and keeps serving', async () => {
    hub = await testHub()
    const res = await hub.post('/api/v0/pin/add?arg=QmNotAValidCidAtAll')
    expect(res.status).toBe(500)
    const body = await res.json() as { Message: string, Code: number, Type: string }
    expect(body.Type).toBe('error')
    expect(body.Code).toBe(0)
    expect(body.Message).toMatch(/^invalid path "QmNotAValidCidAtAll"/)
    expect((await hub.post('/api/v0/version')).status).toBe(200)
  })

  it('never puts a request path into a metric label', async () => {
    hub = await testHub()
    await hub.app.request('/api/v0/made-up-path-1', { method: 'GET' })
    await hub.post('/api/v0/made-up-path-2', { headers: { Origin: 'https://evil.example.com' } })
    await hub.post('/api/v0/swarm/made-up-path-3')
    const metrics = await (await hub.app.request('/metrics')).text()
    expect(metrics).not.toMatch(/made-up-path/)
    expect(metrics).toMatch(/supercluster_hub_requests_total\{command="invalid",outcome="client_error"\} 2/)
  })

  it('forwards unknown commands to the passthrough member and passes its answer through', async () => {
    hub = await testHub()
    const res = await hub.post('/api/v0/swarm/peers')
    expect(res.status).toBe(404)
    expect(await res.text()).toBe('404 page not found\n')
    expect(hub.mocks[0].count('*')).toBeGreaterThan(0)
    expect(hub.mocks[1].count('*')).toBe(0)
  })
})

describe('pins', () => {
  it('pins on max members, answers Kubo-shaped, and lists from its store', async () => {
    hub = await testHub({ replication: { min: 1, max: 2 } })
    const cid = HELLO_WORLD.v0
    const res = await hub.post(`/api/v0/pin/add?arg=${cid}`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(`{"Pins":["${cid}"]}\n`)
    await hub.h.pins.idle()
    expect(holders(hub, cid)).toHaveLength(2)
    expect((await hub.h.store.holders(cid)).sort()).toEqual(holders(hub, cid).sort())

    const stream = await hub.post('/api/v0/pin/ls?stream=true')
    expect(stream.headers.get('x-chunked-output')).toBe('1')
    expect(lines(await stream.text())).toEqual([{ Cid: cid, Type: 'recursive' }])
    const keys = await hub.post('/api/v0/pin/ls')
    expect(await keys.text()).toBe(`{"Keys":{"${cid}":{"Type":"recursive","Name":""}}}\n`)
    const one = await hub.post(`/api/v0/pin/ls?arg=${cid}&type=recursive`)
    expect(one.status).toBe(200)
    const other = makeCids(1)[0]
    const unknown = await hub.post(`/api/v0/pin/ls?arg=${other}`)
    expect(unknown.status).toBe(500)
    expect((await unknown.json() as { Message: string }).Message).toBe(`path '${other}' is not pinned`)
    const badType = await hub.post('/api/v0/pin/ls?type=internal')
    expect((await badType.json() as { Message: string }).Message).toBe("invalid type 'internal', must be one of {direct, indirect, recursive, all}")
  })

  it('places deterministically by rendezvous hashing', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    const cids = makeCids(60)
    for (const cid of cids) expect((await hub.post(`/api/v0/pin/add/${cid}`)).status).toBe(200)
    await hub.h.pins.idle()
    const again = cids.map(cid => hub!.h.placement.place({ key: cid }).ranked[0])
    expect(cids.map(cid => holders(hub!, cid)[0])).toEqual(again)
    // every member gets a share
    for (const m of hub.mocks) expect(m.pins.size).toBeGreaterThan(5)
  })

  it('pins directly with recursive=false, and names pins', async () => {
    hub = await testHub({ kind: 'kubo' })
    const [a, b] = makeCids(2)
    await hub.post(`/api/v0/pin/add?arg=${a}&recursive=false`)
    await hub.post(`/api/v0/pin/add?arg=${b}&name=backup-1`)
    await hub.h.pins.idle()
    expect(hub.mocks.find(m => m.pins.has(a))!.pins.get(a)!.type).toBe('direct')
    const direct = lines(await (await hub.post('/api/v0/pin/ls?type=direct&stream=true')).text())
    expect(direct).toEqual([{ Cid: a, Type: 'direct' }])
    const named = lines(await (await hub.post('/api/v0/pin/ls?stream=true&names=true&type=recursive')).text())
    expect(named).toEqual([{ Cid: b, Name: 'backup-1', Type: 'recursive' }])
    const filtered = await (await hub.post('/api/v0/pin/ls?name=backup')).json() as { Keys: Record<string, { Name: string }> }
    expect(Object.keys(filtered.Keys)).toEqual([b])
    const dup = await hub.post(`/api/v0/pin/add?arg=${b}&recursive=false`)
    expect((await dup.json() as { Message: string }).Message).toBe(`pin: ${b} already pinned recursively`)
  })

  it('takes pin arguments from a multipart stdin body', async () => {
    hub = await testHub()
    const cids = makeCids(3)
    const { body, contentType } = multipart([{ name: 'stdin', content: cids.join('\n') + '\n' }])
    const res = await hub.post('/api/v0/pin/add', { body, headers: { 'Content-Type': contentType } })
    expect(await res.json()).toEqual({ Pins: cids })
  })

  it('unpins everywhere, and a second unpin says not pinned', async () => {
    hub = await testHub({ replication: { min: 2, max: 3 } })
    const cid = makeCids(1)[0]
    await hub.post(`/api/v0/pin/add?arg=${cid}`)
    await hub.h.pins.idle()
    expect(holders(hub, cid)).toHaveLength(3)
    const res = await hub.post(`/api/v0/pin/rm?arg=${cid}`)
    expect(await res.text()).toBe(`{"Pins":["${cid}"]}\n`)
    expect(holders(hub, cid)).toHaveLength(0)
    expect((await hub.h.store.get(cid))).toBeUndefined()
    const again = await hub.post(`/api/v0/pin/rm/${cid}`)
    expect(again.status).toBe(500)
    expect((await again.json() as { Message: string }).Message).toBe('not pinned or pinned indirectly')
  })

  it("treats the cluster proxy's 'pin is not part of the pinset' as already unpinned", async () => {
    hub = await testHub({ kind: 'cluster-proxy', mock: { flavor: 'cluster-proxy' }, replication: { min: 1, max: 2 } })
    const cid = makeCids(1)[0]
    await hub.post(`/api/v0/pin/add?arg=${cid}`)
    await hub.h.pins.idle()
    const holder = hub.mocks.find(m => m.pins.has(cid))!
    holder.pins.delete(cid) // someone unpinned it behind the hub's back
    const res = await hub.post(`/api/v0/pin/rm?arg=${cid}`)
    expect(res.status).toBe(200)
    expect((await hub.h.store.get(cid))).toBeUndefined()
  })

  it('updates a pin on the members that hold it', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    const [from, to] = makeCids(2)
    await hub.post(`/api/v0/pin/add?arg=${from}&name=site`)
    await hub.h.pins.idle()
    const holder = holders(hub, from)[0]
    const res = await hub.post(`/api/v0/pin/update?arg=${from}&arg=${to}`)
    expect(await res.text()).toBe(`{"Pins":["${from}","${to}"]}\n`)
    expect(holders(hub, to)).toEqual([holder])
    expect(holders(hub, from)).toEqual([])
    expect((await hub.h.store.get(to))?.name).toBe('site')
    expect((await hub.h.store.get(from))).toBeUndefined()
    const bad = await hub.post(`/api/v0/pin/update?arg=${from}&arg=${to}`)
    expect((await bad.json() as { Message: string }).Message).toBe("'from' cid was not recursively pinned already")
    const missing = await hub.post(`/api/v0/pin/update?arg=${to}`)
    expect(missing.status).toBe(400)
    expect(await missing.text()).toBe('argument "to-path" is required\n')
  })

  it('honours cluster-style replication options', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    const cid = makeCids(1)[0]
    await hub.post(`/api/v0/pin/add?arg=${cid}&replication-min=3&replication-max=3`)
    expect(holders(hub, cid)).toHaveLength(3)
    const bad = await hub.post(`/api/v0/pin/add?arg=${cid}&replication-min=3&replication-max=2`)
    expect(bad.status).toBe(400)
  })
})

describe('content on Kubo members', () => {
  const asked = (t: TestHub, name: string, cmd: string): Array<string | null> =>
    t.mocks.find(m => m.name === name)!.requests.filter(r => r.path === cmd).map(r => r.query.get('offline'))

  it('pins content a member has with one offline pin/add: no probe, no copy', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    const cid = makeCids(1)[0]
    const [target] = hub.h.placement.place({ key: cid }).ranked
    hub.mocks.find(m => m.name === target)!.blocks.add(cid)
    expect((await hub.post(`/api/v0/pin/add?arg=${cid}`)).status).toBe(200)
    expect(asked(hub, target, 'pin/add')).toEqual(['true'])
    expect(hub.mocks.reduce((n, m) => n + m.count('block/stat') + m.count('dag/export'), 0)).toBe(0)
  })

  it('copies from a holder when the offline pin fails, then pins; with no holder anywhere, pins online', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 }, mock: { fetchable: false } })
    const cid = HELLO_WORLD.v0
    const [nowhere] = makeCids(1)
    const [target, holder] = hub.h.placement.place({ key: cid }).ranked
    const { body, contentType } = multipart([{ name: 'hello.txt', content: HELLO_WORLD.text }])
    const added = await request(`${hub.mocks.find(m => m.name === holder)!.url}/api/v0/add?pin=false`, { method: 'POST', body, headers: { 'content-type': contentType } })
    expect(await added.body.text()).toContain(cid)
    expect((await hub.post(`/api/v0/pin/add?arg=${cid}`)).status).toBe(200)
    expect(asked(hub, target, 'pin/add')).toEqual(['true', null])
    expect(hub.mocks.find(m => m.name === holder)!.count('dag/export')).toBe(1)
    expect(hub.mocks.find(m => m.name === target)!.pins.has(cid)).toBe(true)

    const [first] = hub.h.placement.place({ key: nowhere }).ranked
    const res = await hub.post(`/api/v0/pin/add?arg=${nowhere}`)
    expect(res.status).toBe(500)
    expect(asked(hub, first, 'pin/add')).toEqual(['true', null])
    expect((await res.json() as { Message: string }).Message).toMatch(/could not find/)
  })
})

describe('several arguments', () => {
  it('a pin/rm or pin/add with a bad argument, or one not pinned, changes nothing', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    const [a, b, c] = makeCids(3)
    expect((await hub.post(`/api/v0/pin/add?arg=${a}`)).status).toBe(200)
    const pinnedA = holders(hub, a)
    expect(pinnedA).toHaveLength(1)

    const badPath = await hub.post(`/api/v0/pin/rm?arg=${a}&arg=QmNotACid`)
    expect(badPath.status).toBe(500)
    const notPinned = await hub.post(`/api/v0/pin/rm?arg=${a}&arg=${b}`)
    expect(notPinned.status).toBe(500)
    expect((await notPinned.json() as { Message: string }).Message).toBe('not pinned or pinned indirectly')
    expect((await hub.h.store.get(a))?.state).toBe('pinned')
    expect(holders(hub, a)).toEqual(pinnedA)
    expect(hub.mocks.reduce((n, m) => n + m.count('pin/rm'), 0)).toBe(0)

    const badAdd = await hub.post(`/api/v0/pin/add?arg=${c}&arg=QmNotACid`)
    expect(badAdd.status).toBe(500)
    expect(await hub.h.store.get(c)).toBeUndefined()
    expect(holders(hub, c)).toEqual([])

    const both = await hub.post(`/api/v0/pin/rm?arg=${a}&arg=/ipfs/${a}`)
    expect(both.status).toBe(500) // the second names the same pin, gone by then: as Kubo
    expect(await hub.h.store.get(a)).toBeUndefined()
  })
})

describe('pin queues', () => {
  it('count a pin as busy from the moment it is queued, so repair does not queue it twice', async () => {
    hub = await testHub({ members: 1, replication: { min: 1, max: 1 } })
    const t = hub
    t.h.pins.queue('m0').concurrency = 1
    t.mocks[0].setFault('pin/add', { kind: 'delay', ms: 300 })
    const [a, b] = makeCids(2)
    const first = t.post(`/api/v0/pin/add?arg=${a}`)
    await until('the first pin to reach the member', async () => t.mocks[0].count('pin/add') > 0 ? true : undefined)
    const second = t.post(`/api/v0/pin/add?arg=${b}`)
    await until('the second pin to be recorded', async () => (await t.h.store.allocations(b)).length > 0 ? true : undefined)
    expect(t.h.pins.queueDepth('m0')).toBe(2)
    expect(t.h.pins.busy(b, 'm0')).toBe(true) // waiting behind the first, not started
    expect((await Promise.all([first, second])).map(r => r.status)).toEqual([200, 200])
    expect(t.h.pins.busy(b, 'm0')).toBe(false)
  })
})

describe('partial failures', () => {
  it('uses a spare member when a placed member fails', async () => {
    hub = await testHub({ replication: { min: 2, max: 2 } })
    const cid = makeCids(1)[0]
    const placed = hub.h.placement.place({ key: cid }).ranked
    const bad = hub.mocks.find(m => m.name === placed[0])!
    bad.setFault('pin/add', { kind: 'status', status: 500, message: 'disk full' })
    const res = await hub.post(`/api/v0/pin/add?arg=${cid}`)
    expect(res.status).toBe(200)
    expect(holders(hub, cid).sort()).toEqual([placed[1], placed[2]].sort())
    const alloc = (await hub.h.store.allocations(cid)).find(a => a.member === bad.name)
    expect(alloc?.status).toBe('error')
    expect(alloc?.error).toContain('disk full')
  })

  it('says how many acknowledged when fewer than min could pin, and keeps the intent', async () => {
    hub = await testHub({ replication: { min: 2, max: 2 } })
    const cid = makeCids(1)[0]
    hub.mocks[0].setFault('pin/add', { kind: 'status', status: 500, message: 'nope' })
    hub.mocks[1].setFault('pin/add', { kind: 'reset' })
    const res = await hub.post(`/api/v0/pin/add?arg=${cid}`)
    expect(res.status).toBe(500)
    const msg = (await res.json() as { Message: string }).Message
    expect(msg).toMatch(new RegExp(`^pin ${cid}: only 1 of the required 2 members acknowledged`))
    expect((await hub.h.store.get(cid))?.state).toBe('pinned')
    expect((await hub.post('/api/v0/version')).status).toBe(200)
  })

  it('answers at min while a hanging member is still working', async () => {
    hub = await testHub({ replication: { min: 1, max: 3 }, timeout: '3s' })
    const cid = makeCids(1)[0]
    hub.mocks[2].setFault('pin/add', { kind: 'hang' })
    const started = Date.now()
    const res = await hub.post(`/api/v0/pin/add?arg=${cid}`)
    expect(res.status).toBe(200)
    expect(Date.now() - started).toBeLessThan(2500)
    await hub.h.pins.idle()
    expect((await hub.h.store.allocations(cid)).find(a => a.member === 'm2')?.status).toBe('error')
  })

  it('gives the timeout option context deadline exceeded', async () => {
    hub = await testHub({ replication: { min: 1, max: 1 } })
    for (const m of hub.mocks) m.setFault('pin/add', { kind: 'hang' })
    const res = await hub.post(`/api/v0/pin/add?arg=${makeCids(1)[0]}&timeout=300ms`)
    expect(res.status).toBe(500)
    expect((await res.json() as { Message: string }).Message).toContain('context deadline exceeded')
  })

  it('answers 502 with a Kubo error when the passthrough member is unreachable', async () => {
    hub = await testHub()
    hub.mocks[0].setFault('*', { kind: 'reset' })
    const res = await hub.post('/api/v0/swarm/peers')
    expect(res.status).toBe(502)
    const body = await res.json() as { Message: string, Type: string }
    expect(body.Type).toBe('error')
    expect(body.Message).toContain('m0')
  })
})

describe('repo/stat', () => {
  it('sums every member exactly, as u64 numbers, once per member', async () => {
    hub = await testHub({ mock: { repoSize: 2n ** 60n, storageMax: 10_000_000_000n } })
    const res = await hub.post('/api/v0/repo/stat?size-only=true')
    const text = await res.text()
    expect(text).toBe(`{"RepoSize":${3n * 2n ** 60n},"StorageMax":30000000000,"NumObjects":0,"RepoPath":"","Version":""}\n`)
    expect(res.headers.get('x-supercluster-members-failed')).toBe('0')
    for (const m of hub.mocks) expect(m.requests.find(r => r.path === 'repo/stat')?.query.get('size-only')).toBe('true')
  })

  it('saturates at 2^64-1 and counts failing members in a header', async () => {
    hub = await testHub({ mock: (i) => ({ storageMax: (1n << 64n) - 1n, repoSize: BigInt(i) }) })
    hub.mocks[2].setFault('repo/stat', { kind: 'garbage' })
    const res = await hub.post('/api/v0/repo/stat')
    const text = await res.text()
    expect(text).toContain(`"StorageMax":18446744073709551615`)
    expect(text).toContain('"RepoSize":1,')
    expect(res.headers.get('x-supercluster-members-failed')).toBe('1')
  })
})

describe('add', () => {
  it('tees the upload to max members, answers one NDJSON stream and records the pin', async () => {
    hub = await testHub({ replication: { min: 2, max: 2 } })
    const { body, contentType } = multipart([{ name: 'hello.txt', content: HELLO_WORLD.text }])
    const res = await hub.post('/api/v0/add?stream-channels=true&progress=false', { body, headers: { 'Content-Type': contentType } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-chunked-output')).toBe('1')
    expect(lines(await res.text())).toEqual([{ Name: 'hello.txt', Hash: HELLO_WORLD.v0, Size: HELLO_WORLD.size }])
    expect(holders(hub, HELLO_WORLD.v0)).toHaveLength(2)
    expect((await hub.h.store.holders(HELLO_WORLD.v0))).toHaveLength(2)
    expect(hub.mocks.filter(m => m.count('add') === 1)).toHaveLength(2)
  })

  it('refuses a form without any part as Kubo does, before asking a member', async () => {
    hub = await testHub({ replication: { min: 2, max: 2 } })
    for (const query of ['', '?pin=false']) {
      const { body, contentType } = multipart([])
      const res = await hub.post(`/api/v0/add${query}`, { body, headers: { 'Content-Type': contentType } })
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ Message: 'expected a file argument', Code: 0, Type: 'error' })
    }
    expect(hub.mocks.reduce((n, m) => n + m.count('add'), 0)).toBe(0)
    // a form that has a part after a preamble still goes through
    const { body, contentType } = multipart([{ name: 'hello.txt', content: HELLO_WORLD.text }])
    const ok = await hub.post('/api/v0/add', { body: Buffer.concat([Buffer.from('preamble\r\n'), body]), headers: { 'Content-Type': contentType } })
    expect(ok.status).toBe(200)
    expect(lines(await ok.text())).toEqual([{ Name: 'hello.txt', Hash: HELLO_WORLD.v0, Size: HELLO_WORLD.size }])
  })

  it('sends pin=false to a single member and records nothing', async () => {
    hub = await testHub({ replication: { min: 2, max: 3 } })
    const { body, contentType } = multipart([{ name: '', content: 'x' }])
    const res = await hub.post('/api/v0/add?pin=false', { body, headers: { 'Content-Type': contentType } })
    expect(res.status).toBe(200)
    expect(hub.mocks.reduce((n, m) => n + m.count('add'), 0)).toBe(1)
    expect((await collect(hub.h.store.list()))).toHaveLength(0)
  })

  it('does not record members that disagree on the root', async () => {
    hub = await testHub({ replication: { min: 1, max: 3 } })
    hub.mocks[1].setFault('add', { kind: 'wrong-cid' })
    const { body, contentType } = multipart([{ name: 'hello.txt', content: HELLO_WORLD.text }])
    const res = await hub.post('/api/v0/add', { body, headers: { 'Content-Type': contentType } })
    expect(res.status).toBe(200)
    await res.text()
    expect((await hub.h.store.holders(HELLO_WORLD.v0))).not.toContain('m1')
  })

  it('fails with a Kubo error when every member rejects the upload', async () => {
    hub = await testHub({ replication: { min: 1, max: 2 } })
    for (const m of hub.mocks) m.setFault('add', { kind: 'status', status: 500, message: 'no space left' })
    const { body, contentType } = multipart([{ name: 'a', content: 'abc' }])
    const res = await hub.post('/api/v0/add', { body, headers: { 'Content-Type': contentType } })
    expect(res.status).toBe(500)
    expect((await res.json() as { Message: string }).Message).toContain('no space left')
  })
})

describe('add through cluster proxies (their events in Kubo shape)', () => {
  const proxy = { flavor: 'cluster-proxy' as const }
  const upload = (): ReturnType<typeof multipart> => multipart([
    { name: 'big.bin', content: randomBytes(300_000) },
    { name: '', content: 'unnamed part\n' },
    { name: 'empty.txt', content: '' },
    { name: 'd', content: '', type: 'application/x-directory' },
    { name: 'd/sub', content: '', type: 'application/x-directory' },
    { name: 'd/sub/f.txt', content: randomBytes(270_000) },
  ])

  it('names progress events and unnamed parts as Kubo does and writes Size "0", so mixed members agree', async () => {
    // m0 is a cluster proxy, m1 a Kubo node: they must agree line by line. m1 answers
    // slowly, so whenever m0's progress is the one passed on, it runs ahead of the results.
    hub = await testHub({ members: 2, replication: { min: 2, max: 2 }, mock: (i) => i === 0 ? proxy : {}, kind: (i) => i === 0 ? 'cluster-proxy' : 'kubo' })
    hub.mocks[1].setFault('add', { kind: 'slow-body', bytesPerSecond: 4000 })
    for (let round = 0; round < 3; round++) {
      const { body, contentType } = upload()
      const query = '?progress=true&cid-version=1'
      const res = await hub.post(`/api/v0/add${query}`, { body, headers: { 'Content-Type': contentType } })
      expect(res.status).toBe(200)
      const got = lines(await res.text())
      expect(got).toEqual(await kuboAnswer(query, body, contentType))
      const names = got.map(l => (l as { Name: string }).Name)
      expect(names).toContain('big.bin')
      expect(names).toContain('')
      expect(got).toContainEqual({ Name: 'empty.txt', Hash: expect.any(String), Size: '0' })
      const root = got.at(-1) as { Hash: string }
      expect((await hub.h.store.holders(root.Hash)).sort()).toEqual(['m0', 'm1'])
    }
  })
})

describe('add through cluster proxies, unpinned, and only-hash', () => {
  const proxies = { mock: { flavor: 'cluster-proxy' as const }, kind: 'cluster-proxy' }

  it('gives an unpinned add to one cluster proxy and still answers in Kubo shape', async () => {
    hub = await testHub({ ...proxies, replication: { min: 2, max: 3 } })
    const { body, contentType } = multipart([{ name: 'p.bin', content: randomBytes(300_000) }, { name: '', content: 'x' }])
    const query = '?pin=false&progress=true'
    const res = await hub.post(`/api/v0/add${query}`, { body, headers: { 'Content-Type': contentType } })
    expect(res.status).toBe(200)
    expect(lines(await res.text())).toEqual(await kuboAnswer(query, body, contentType))
    expect(hub.mocks.reduce((n, m) => n + m.count('add'), 0)).toBe(1)
    expect(hub.mocks.every(m => m.pins.size === 0)).toBe(true)
    expect((await collect(hub.h.store.list()))).toHaveLength(0)
  })

  it('computes only-hash itself with Kubo\'s CIDs and events, storing nothing and asking no member', async () => {
    hub = await testHub({ ...proxies, replication: { min: 1, max: 2 } })
    // (the reference mock emits directory events last, which is Kubo's order only when the
    // directory comes last, and does not link an unnamed part into a wrapper as Kubo does)
    const files = [
      { name: 'top.txt', content: 'only the hash\n' },
      { name: 'w', content: '', type: 'application/x-directory' },
      { name: 'w/a.bin', content: randomBytes(5000) },
    ]
    const unnamed = [{ name: '', content: '' }, ...files]
    for (const [query, parts] of [['?only-hash=true', unnamed], ['?n=true&cid-version=1&chunker=size-1024&progress=true', unnamed],
      ['?only-hash=true&wrap-with-directory=true&raw-leaves=true', files]] as const) {
      const { body, contentType } = multipart([...parts])
      const res = await hub.post(`/api/v0/add${query}`, { body, headers: { 'Content-Type': contentType } })
      expect(res.status, query).toBe(200)
      expect(res.headers.get('x-chunked-output')).toBe('1')
      expect(lines(await res.text()), query).toEqual(await kuboAnswer(query, body, contentType))
    }
    expect(hub.mocks.reduce((n, m) => n + m.count('*'), 0)).toBe(0)
    expect((await collect(hub.h.store.list()))).toHaveLength(0)
  })

  it('refuses bad only-hash options in Kubo\'s words, and what its importer lacks when only cluster proxies could be asked', async () => {
    hub = await testHub({ ...proxies, members: 2 })
    const { body, contentType } = multipart([{ name: 'a', content: 'abc' }])
    const bad = await hub.post('/api/v0/add?only-hash=true&chunker=size-0', { body, headers: { 'Content-Type': contentType } })
    expect(bad.status).toBe(500)
    expect(await bad.json()).toEqual({ Message: 'chunker size must be greater than 0', Code: 0, Type: 'error' })
    const lacking = await hub.post('/api/v0/add?only-hash=true&hash=sha3-256', { body, headers: { 'Content-Type': contentType } })
    expect(lacking.status).toBe(500)
    expect((await lacking.json() as { Message: string }).Message).toContain('sha3-256')
    expect(hub.mocks.reduce((n, m) => n + m.count('*'), 0)).toBe(0)
  })
})

describe('repo/stat over cluster proxies (RepoSize and StorageMax only)', () => {
  const proxies = { mock: { flavor: 'cluster-proxy' as const }, kind: 'cluster-proxy' }
  const fill = (m: KuboMock, n: number): void => { for (const cid of makeCids(n, { seed: m.name })) m.blocks.add(cid) }

  it('counts NumObjects with refs/local on each peer\'s daemon, once per daemon, and not with size-only', async () => {
    // m0: a sub-cluster of three peer proxies, two of them in front of one daemon; m1: one proxy.
    hub = await testHub({
      ...proxies,
      members: 4,
      mock: (i) => ({ flavor: 'cluster-proxy', repoSize: 1000n, ...(i === 1 || i === 2 ? { peerId: 'shared-daemon' } : {}) }),
      memberUrls: (mocks) => [[mocks[0].url, mocks[1].url, mocks[2].url], [mocks[3].url]],
    })
    const [a, b, c, d] = hub.mocks
    // b and c are proxies of one daemon: the same peer ID, the same blocks.
    fill(a, 3)
    fill(b, 5)
    for (const cid of b.blocks) c.blocks.add(cid)
    fill(d, 7)
    const res = await hub.post('/api/v0/repo/stat')
    expect(res.status).toBe(200)
    const stat = await res.json() as { RepoSize: number, NumObjects: number }
    expect(stat.NumObjects).toBe(3 + 5 + 7)
    expect(stat.RepoSize).toBe(2000)
    expect(res.headers.get('x-supercluster-members-failed')).toBe('0')

    const before = hub.mocks.map(m => m.count('refs/local'))
    const sized = await hub.post('/api/v0/repo/stat?size-only=true')
    expect((await sized.json() as { NumObjects: number }).NumObjects).toBe(0)
    expect(hub.mocks.map(m => m.count('refs/local'))).toEqual(before)
  })

  it('skips a peer whose daemon cannot be listed, as the proxy skips it for RepoSize', async () => {
    hub = await testHub({ ...proxies, members: 2, memberUrls: (mocks) => [[mocks[0].url, mocks[1].url]] })
    fill(hub.mocks[0], 4)
    fill(hub.mocks[1], 6)
    hub.mocks[1].setFault('refs/local', { kind: 'truncate' })
    const res = await hub.post('/api/v0/repo/stat')
    expect((await res.json() as { NumObjects: number }).NumObjects).toBe(4)
  })
})
