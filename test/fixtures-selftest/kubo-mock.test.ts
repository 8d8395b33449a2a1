/**
 * @module test/fixtures-selftest/kubo-mock
 * Self-tests of the fake member: Kubo wire rules, add CIDs, pin semantics in both flavors,
 * every fault kind as a client sees it (through undici), and kubo-rpc-client against it.
 */
import { CarReader } from '@ipld/car'
import { create } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { request, errors as undiciErrors } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { EMPTY_FILE, HELLO_WORLD, HELLO_WRAPPED_V0, NOT_A_CID, makeCids } from '../fixtures/cids.js'
import { startKuboMock, type KuboMock, type KuboMockOptions } from '../fixtures/kubo-mock.js'

const HW = HELLO_WORLD.v0

const mocks: KuboMock[] = []
async function mock (options: KuboMockOptions = {}): Promise<KuboMock> {
  const m = await startKuboMock(options)
  mocks.push(m)
  return m
}
afterEach(async () => {
  await Promise.all(mocks.splice(0).map(async (m) => await m.close()))
})

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  trailers: Record<string, string | string[] | undefined>
  text: string
  ms: number
}

interface PostOptions {
  method?: 'POST' | 'GET' | 'PUT' | 'OPTIONS'
  body?: Uint8Array | string
  contentType?: string
  headersTimeout?: number
  bodyTimeout?: number
}

async function post (m: KuboMock, path: string, options: PostOptions = {}): Promise<Answer> {
  const started = performance.now()
  const res = await request(`${m.url}/api/v0/${path}`, {
    method: options.method ?? 'POST',
    body: options.body,
    headers: options.contentType !== undefined ? { 'content-type': options.contentType } : {},
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, trailers: res.trailers, text, ms: performance.now() - started }
}

function lines (text: string): unknown[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)
}

interface Part { filename?: string, content: string | Uint8Array, type?: string }

function multipart (parts: Part[], options: { truncate?: boolean } = {}): { body: Uint8Array, contentType: string } {
  const boundary = `----kubo-mock-selftest-${Math.random().toString(16).slice(2)}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(p.filename ?? '')}"\r\n` +
      `Content-Type: ${p.type ?? 'application/octet-stream'}\r\n\r\n`))
    chunks.push(Buffer.from(p.content))
    chunks.push(Buffer.from('\r\n'))
  }
  if (options.truncate !== true) chunks.push(Buffer.from(`--${boundary}--\r\n`))
  else chunks.pop()
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

async function add (m: KuboMock, parts: Part[], query = ''): Promise<Answer> {
  const { body, contentType } = multipart(parts)
  return await post(m, `add${query}`, { body, contentType })
}

describe('Kubo wire rules', () => {
  it('answers version with the exact object, chunked, with Kubo headers', async () => {
    const m = await mock()
    const r = await post(m, 'version')
    expect(r.status).toBe(200)
    expect(r.text).toBe('{"Version":"0.44.0","Commit":"","Repo":"18","System":"amd64/linux","Golang":"go1.26.8"}\n')
    expect(r.headers['content-type']).toBe('application/json')
    expect(r.headers.trailer).toBe('X-Stream-Error')
    expect(r.headers.vary).toBe('Origin')
    expect(r.headers['transfer-encoding']).toBe('chunked')
    expect(r.headers['x-chunked-output']).toBeUndefined()
  })

  it('rejects GET with 405 text/plain and Allow, unknown commands with 404, answers OPTIONS', async () => {
    const m = await mock()
    const get = await post(m, 'version', { method: 'GET' })
    expect(get.status).toBe(405)
    expect(get.text).toBe('405 - Method Not Allowed\n')
    expect(get.headers.allow).toBe('OPTIONS, POST')
    expect(String(get.headers['content-type'])).toMatch(/^text\/plain/)
    const nf = await post(m, 'swarm/peers')
    expect(nf.status).toBe(404)
    expect(nf.text).toBe('404 page not found\n')
    const opt = await post(m, 'version', { method: 'OPTIONS' })
    expect(opt.status).toBe(204)
    expect(opt.headers.allow).toBe('OPTIONS, POST')
  })

  it('reports a valid Ed25519 peer ID from id', async () => {
    const m = await mock()
    const r = await post(m, 'id')
    const body = JSON.parse(r.text) as Record<string, unknown>
    expect(body.ID).toBe(m.peerId)
    expect(m.peerId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/)
    expect(body.PublicKey).toMatch(/^CAESI/)
    expect(body).toMatchObject({ Addresses: [], AgentVersion: 'kubo/0.44.0/mock', Protocols: [] })
    expect(Object.keys(body)).toEqual(['ID', 'PublicKey', 'Addresses', 'AgentVersion', 'Protocols'])
  })

  it('parses booleans like go-ipfs-cmds (empty = true, bad value = 400 text)', async () => {
    const m = await mock()
    const bad = await post(m, `pin/add?arg=${HW}&recursive=yes`)
    expect(bad.status).toBe(400)
    expect(bad.text).toBe('could not convert value "yes" to type "bool" (for option "-recursive")\n')
    const missing = await post(m, 'pin/add')
    expect(missing.status).toBe(400)
    expect(missing.text).toBe('argument "ipfs-path" is required\n')
    const ok = await post(m, `pin/add?arg=${HW}&recursive`)
    expect(ok.status).toBe(200)
    expect(m.pins.get(HW)?.type).toBe('recursive')
  })

  it('writes exact u64 numbers in repo/stat', async () => {
    const m = await mock({ repoSize: 123n, storageMax: 18446744073709551615n })
    const r = await post(m, 'repo/stat')
    expect(r.text).toBe('{"RepoSize":123,"StorageMax":18446744073709551615,"NumObjects":0,"RepoPath":"/mock","Version":"fs-repo@18"}\n')
    const sizeOnly = await post(m, 'repo/stat?size-only=true')
    expect(sizeOnly.text).toBe('{"RepoSize":123,"StorageMax":18446744073709551615,"NumObjects":0,"RepoPath":"","Version":""}\n')
    m.repoSize = undefined
    await add(m, [{ filename: 'a', content: HELLO_WORLD.text }])
    expect(JSON.parse((await post(m, 'repo/stat')).text)).toMatchObject({ RepoSize: 20, NumObjects: 1 })
  })
})

describe('add', () => {
  it('gives Kubo\'s CID and Size for hello world, and pins and holds the root', async () => {
    const m = await mock()
    const r = await add(m, [{ filename: 'hello.txt', content: HELLO_WORLD.text }])
    expect(r.status).toBe(200)
    expect(r.headers['x-chunked-output']).toBe('1')
    expect(r.text).toBe(`{"Name":"hello.txt","Hash":"${HW}","Size":"20"}\n`)
    expect(m.pins.get(HW)).toEqual({ type: 'recursive' })
    expect(m.blocks.has(HW)).toBe(true)
    expect(Buffer.from(m.contents.get(HW) ?? []).toString()).toBe(HELLO_WORLD.text)
  })

  it('follows cid-version, pin=false, wrap-with-directory, unnamed files and progress', async () => {
    const m = await mock()
    const v1 = await add(m, [{ filename: 'hello.txt', content: HELLO_WORLD.text }], '?cid-version=1&pin=false')
    expect(lines(v1.text)).toEqual([{ Name: 'hello.txt', Hash: HELLO_WORLD.v1, Size: '12' }])
    expect(m.pins.has(HELLO_WORLD.v1 ?? '')).toBe(false)
    expect(m.blocks.has(HELLO_WORLD.v1 ?? '')).toBe(true)

    const wrapped = await add(m, [{ filename: 'hello.txt', content: HELLO_WORLD.text }], '?wrap-with-directory=true')
    expect(lines(wrapped.text)).toEqual([
      { Name: 'hello.txt', Hash: HW, Size: '20' },
      { Name: '', Hash: HELLO_WRAPPED_V0, Size: '75' },
    ])
    expect(m.pins.has(HELLO_WRAPPED_V0)).toBe(true)
    expect(m.pins.has(HW)).toBe(false)

    const unnamed = await add(m, [{ content: '' }], '?progress=true')
    expect(lines(unnamed.text)).toEqual([{ Name: '' }, { Name: EMPTY_FILE.v0, Hash: EMPTY_FILE.v0, Size: '6' }])

    const big = new Uint8Array(600_000).fill(7)
    const progress = await add(m, [{ filename: 'big', content: big }], '?progress=true')
    const events = lines(progress.text) as Array<Record<string, unknown>>
    expect(events.filter((e) => e.Hash === undefined).map((e) => e.Bytes)).toEqual([262144, 524288, 600000])
    expect(events.at(-1)).toMatchObject({ Name: 'big', Size: expect.any(String) })
  })

  it('adds directories and names nested entries Kubo\'s way', async () => {
    const m = await mock()
    const r = await add(m, [
      { filename: 'd', content: '', type: 'application/x-directory' },
      { filename: 'd/a', content: HELLO_WORLD.text },
      { filename: 'd/b/c', content: HELLO_WORLD.text },
    ])
    const events = lines(r.text) as Array<{ Name: string, Hash: string }>
    expect(events.map((e) => e.Name)).toEqual(['d/a', 'd/b/c', 'd/b', 'd'])
    const root = events.at(-1)?.Hash ?? ''
    expect(m.pins.has(root)).toBe(true)
    const cat = await post(m, `cat?arg=${root}`)
    expect(JSON.parse(cat.text)).toMatchObject({ Message: 'this dag node is a directory' })
  })

  it('refuses a non-multipart body and fails a truncated multipart with 500', async () => {
    const m = await mock()
    const plain = await post(m, 'add', { body: 'hello', contentType: 'application/octet-stream' })
    expect(plain.status).toBe(400)
    expect(plain.text).toBe("file argument 'path' is required\n")
    const { body, contentType } = multipart([{ filename: 'x', content: 'abc' }], { truncate: true })
    const cut = await post(m, 'add', { body, contentType })
    expect(cut.status).toBe(500)
    expect(JSON.parse(cut.text)).toMatchObject({ Code: 0, Type: 'error' })
    expect(m.blocks.size).toBe(0)

    // After a first event has gone out, Kubo keeps the 200 and reports in the trailer.
    const two = multipart([{ filename: 'a', content: HELLO_WORLD.text }, { filename: 'b', content: 'xyz' }], { truncate: true })
    const late = await post(m, 'add', { body: two.body, contentType: two.contentType })
    expect(late.status).toBe(200)
    expect(lines(late.text)).toEqual([{ Name: 'a', Hash: HW, Size: '20' }])
    expect(late.trailers['x-stream-error']).toMatch(/Unexpected end of form/)
  })

  it('computes the CIDs that cids.ts generates', async () => {
    const m = await mock()
    const [v0] = makeCids(1, { seed: 'selftest-' })
    const [v1] = makeCids(1, { seed: 'selftest-', version: 1 })
    expect(lines((await add(m, [{ filename: 'f', content: 'selftest-0' }])).text)).toEqual([{ Name: 'f', Hash: v0, Size: expect.any(String) }])
    expect(lines((await add(m, [{ filename: 'f', content: 'selftest-0' }], '?cid-version=1')).text)).toEqual([{ Name: 'f', Hash: v1, Size: '10' }])
  })
})

describe('pins (kubo flavor)', () => {
  it('pins, lists, renames, unpins with Kubo\'s wording', async () => {
    const m = await mock()
    const [a, b] = makeCids(2, { seed: 'pins-' })
    expect((await post(m, `pin/add?arg=${a}&name=first`)).text).toBe(`{"Pins":["${a}"]}\n`)
    expect((await post(m, `pin/add/${b}?recursive=false`)).text).toBe(`{"Pins":["${b}"]}\n`)
    expect(m.pins.get(a)).toEqual({ type: 'recursive', name: 'first' })
    expect(m.pins.get(b)).toEqual({ type: 'direct' })

    const stream = await post(m, 'pin/ls?stream=true&names=true')
    expect(stream.headers['x-chunked-output']).toBe('1')
    expect(lines(stream.text)).toEqual([{ Cid: a, Name: 'first', Type: 'recursive' }, { Cid: b, Type: 'direct' }])
    expect(lines((await post(m, 'pin/ls?stream=true')).text)).toEqual([{ Cid: a, Type: 'recursive' }, { Cid: b, Type: 'direct' }])
    expect(JSON.parse((await post(m, 'pin/ls?type=direct')).text)).toEqual({ Keys: { [b]: { Type: 'direct', Name: '' } } })
    expect((await post(m, 'pin/ls?type=indirect')).text).toBe('{}\n')

    const notPinned = await post(m, `pin/ls?arg=${HW}`)
    expect(notPinned.status).toBe(500)
    expect(JSON.parse(notPinned.text)).toEqual({ Message: `path '${HW}' is not pinned`, Code: 0, Type: 'error' })
    const badType = await post(m, 'pin/ls?type=nope')
    expect(JSON.parse(badType.text).Message).toBe("invalid type 'nope', must be one of {direct, indirect, recursive, all}")

    const direct = await post(m, `pin/add?arg=${a}&recursive=false`)
    expect(JSON.parse(direct.text).Message).toBe(`pin: ${a} already pinned recursively`)
    const rmDirectOfRecursive = await post(m, `pin/rm?arg=${a}&recursive=false`)
    expect(JSON.parse(rmDirectOfRecursive.text).Message).toBe(`${a} is pinned recursively`)

    expect((await post(m, `pin/rm?arg=${a}`)).text).toBe(`{"Pins":["${a}"]}\n`)
    const again = await post(m, `pin/rm?arg=${a}`)
    expect(again.status).toBe(500)
    expect(JSON.parse(again.text).Message).toBe('not pinned or pinned indirectly')
    expect(m.blocks.has(a)).toBe(true)
  })

  it('refuses to pin missing content when not fetchable', async () => {
    const m = await mock({ fetchable: false })
    const [c] = makeCids(1, { seed: 'missing-' })
    const r = await post(m, `pin/add?arg=${c}`)
    expect(r.status).toBe(500)
    expect(JSON.parse(r.text).Message).toBe(`ipld: could not find ${c}`)
    m.blocks.add(c)
    expect((await post(m, `pin/add?arg=${c}`)).status).toBe(200)
    // Arguments may also come as lines of the first multipart part ("stdin").
    const [d] = makeCids(1, { seed: 'stdin-' })
    m.blocks.add(d)
    const stdin = multipart([{ filename: 'stdin', content: `${d}\r\n` }])
    expect((await post(m, 'pin/add', { body: stdin.body, contentType: stdin.contentType })).text).toBe(`{"Pins":["${d}"]}\n`)
    const invalid = await post(m, `pin/add?arg=${NOT_A_CID}`)
    expect(invalid.status).toBe(500)
    expect(JSON.parse(invalid.text).Message).toMatch(/^invalid path "QmNotAValidCidAtAll"/)
  })

  it('updates pins and carries the name over', async () => {
    const m = await mock()
    const [from, to] = makeCids(2, { seed: 'update-' })
    await post(m, `pin/add?arg=${from}&name=n`)
    const r = await post(m, `pin/update?arg=${from}&arg=${to}`)
    expect(r.text).toBe(`{"Pins":["${from}","${to}"]}\n`)
    expect(m.pins.has(from)).toBe(false)
    expect(m.pins.get(to)).toEqual({ type: 'recursive', name: 'n' })
    const again = await post(m, `pin/update?arg=${from}&arg=${to}`)
    expect(JSON.parse(again.text).Message).toBe("'from' cid was not recursively pinned already")
    expect((await post(m, `pin/update?arg=${from}`)).text).toBe('argument "to-path" is required\n')
  })

  it('collects unpinned content on repo/gc', async () => {
    const m = await mock()
    await add(m, [{ filename: 'a', content: 'kept' }])
    await add(m, [{ filename: 'b', content: 'dropped' }], '?pin=false')
    const held = [...m.blocks]
    const r = await post(m, 'repo/gc')
    const removed = (lines(r.text) as Array<{ Key: { '/': string } }>).map((l) => l.Key['/'])
    expect(removed).toHaveLength(1)
    expect(m.blocks.size).toBe(1)
    expect(held).toContain(removed[0])
  })
})

describe('cluster-proxy flavor', () => {
  it('uses the proxy\'s wording, shapes and type handling', async () => {
    const m = await mock({ flavor: 'cluster-proxy', repoSize: 2000n, storageMax: 100000n })
    const [a, b] = makeCids(2, { seed: 'proxy-' })
    const added = await post(m, `pin/add?arg=${a}&recursive=false`)
    expect(added.text).toBe(`{"Pins":["${a}"]}`)
    expect(added.headers.server).toBe('ipfs-cluster/ipfsproxy/1.1.6')
    expect(m.pins.get(a)?.type).toBe('recursive') // recursive=false is ignored
    await post(m, `pin/add?arg=${b}&type=direct`)
    expect(m.pins.get(b)?.type).toBe('direct')

    expect(JSON.parse((await post(m, 'pin/ls?type=direct')).text)).toEqual({ Keys: { [a]: { Type: 'recursive' }, [b]: { Type: 'recursive' } } })
    const stream = await post(m, 'pin/ls?stream=true&type=recursive')
    expect(stream.headers['x-chunked-output']).toBeUndefined()
    expect(lines(stream.text)).toEqual([{ Cid: a, Type: 'recursive' }, { Cid: b, Type: 'direct' }])
    const missing = await post(m, `pin/ls?arg=${HW}`)
    expect(JSON.parse(missing.text).Message).toBe(`Error: path '${HW}' is not pinned`)

    const rm = await post(m, `pin/rm?arg=${HW}`)
    expect(rm.status).toBe(500)
    expect(rm.text).toBe('{"Message":"pin is not part of the pinset","Code":0,"Type":"error"}')

    expect((await post(m, 'repo/stat')).text).toBe('{"RepoSize":2000,"StorageMax":100000}')
    expect((await post(m, 'pin/ls', { method: 'GET' })).status).toBe(200)
    expect((await post(m, 'version', { method: 'GET' })).status).toBe(405)
    expect((await post(m, 'pin/update')).status).toBe(400)
  })

  it('adds like the proxy: 200 before adding, errors in the trailer, pins only the last root', async () => {
    const m = await mock({ flavor: 'cluster-proxy' })
    const r = await add(m, [{ filename: 'a', content: 'one' }, { filename: 'b', content: 'two' }])
    expect(r.headers.connection).toBe('close')
    const [first, second] = lines(r.text) as Array<{ Hash: string }>
    expect(m.pins.has(first.Hash)).toBe(false)
    expect(m.pins.has(second.Hash)).toBe(true)
    const plain = await post(m, 'add', { body: 'x', contentType: 'text/plain' })
    expect(plain.status).toBe(500)
    expect(JSON.parse(plain.text).Message).toBe("error reading request: request Content-Type isn't multipart/form-data")
    const { body, contentType } = multipart([{ filename: 'x', content: 'abc' }], { truncate: true })
    const cut = await post(m, 'add', { body, contentType })
    expect(cut.status).toBe(200)
    expect(cut.text).toBe('')
    expect(cut.trailers['x-stream-error']).toMatch(/Unexpected end of form/)
  })
})

describe('cat, block/stat, dag/export, dag/import', () => {
  it('serves what was added and round-trips a CAR', async () => {
    const m = await mock()
    await add(m, [{ filename: 'hello.txt', content: HELLO_WORLD.text }])
    const cat = await post(m, `cat/${HW}?offset=6`)
    expect(cat.text).toBe('world\n')
    expect(cat.headers['content-type']).toBe('text/plain')
    expect(cat.headers['x-stream-output']).toBe('1')
    expect(JSON.parse((await post(m, `block/stat?arg=${HW}`)).text)).toEqual({ Key: HW, Size: 20 })

    const res = await request(`${m.url}/api/v0/dag/export?arg=${HW}`, { method: 'POST' })
    const car = new Uint8Array(await res.body.arrayBuffer())
    const reader = await CarReader.fromBytes(car)
    expect((await reader.getRoots()).map(String)).toEqual([HW])
    expect((await reader.get(CID.parse(HW)))?.bytes.length).toBe(20)

    const other = await mock({ fetchable: false })
    const { body, contentType } = multipart([{ filename: 'x.car', content: car }])
    const imported = await post(other, 'dag/import?stats=true', { body, contentType })
    expect(lines(imported.text)).toEqual([
      { Root: { Cid: { '/': HW }, PinErrorMsg: '' } },
      { Stats: { BlockCount: 1, BlockBytesCount: 20 } },
    ])
    expect(other.pins.get(HW)?.type).toBe('recursive')
    expect(other.requests.at(-1)?.bodyBytes).toBe(body.length)
  })

  it('reports content it does not keep as unsupported', async () => {
    const m = await mock()
    const [c] = makeCids(1, { seed: 'cat-' })
    const r = await post(m, `cat?arg=${c}`)
    expect(r.status).toBe(500)
    expect(JSON.parse(r.text).Message).toMatch(/not supported/)
    expect((await post(m, `dag/export?arg=${c}`)).status).toBe(500)
  })
})

describe('faults', () => {
  it('reset: the client sees a connection reset', async () => {
    const m = await mock()
    m.setFault('version', { kind: 'reset' })
    const err = await post(m, 'version').catch((e: unknown) => e) as Error & { code?: string }
    expect(err).toBeInstanceOf(Error)
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(err.code)
    expect(m.count('version')).toBe(1)
  })

  it('hang: no answer until the client times out', async () => {
    const m = await mock()
    m.setFault('pin/add', { kind: 'hang' })
    const started = performance.now()
    const err = await post(m, `pin/add?arg=${HW}`, { headersTimeout: 300 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(undiciErrors.HeadersTimeoutError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(m.pins.size).toBe(0)

    // close() does not wait for hanging requests: it cuts them.
    const pending = post(m, `pin/add?arg=${HW}`).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const closing = performance.now()
    await m.close()
    expect(performance.now() - closing).toBeLessThan(500)
    expect(await pending).toBeInstanceOf(Error)
  })

  it('delay: answers normally after the delay; timeout= gives context deadline exceeded', async () => {
    const m = await mock()
    m.setFault('id', { kind: 'delay', ms: 300 })
    const slow = await post(m, 'id')
    expect(slow.status).toBe(200)
    expect(slow.ms).toBeGreaterThanOrEqual(290)
    const deadline = await post(m, 'id?timeout=100ms')
    expect(deadline.status).toBe(500)
    expect(JSON.parse(deadline.text).Message).toBe('context deadline exceeded')
    expect(deadline.ms).toBeLessThan(290)
  })

  it('slow-body: headers at once, body at about the given rate', async () => {
    const m = await mock()
    await add(m, [{ filename: 'f', content: new Uint8Array(4000).fill(1) }])
    const [cid] = [...m.contents.keys()]
    m.setFault('cat', { kind: 'slow-body', bytesPerSecond: 8000 })
    const started = performance.now()
    const res = await request(`${m.url}/api/v0/cat?arg=${cid}`, { method: 'POST' })
    const headersAt = performance.now() - started
    const body = new Uint8Array(await res.body.arrayBuffer())
    const total = performance.now() - started
    expect(body.length).toBe(4000)
    expect(headersAt).toBeLessThan(150)
    expect(total).toBeGreaterThanOrEqual(450)
    expect(total).toBeLessThan(1500)
  })

  it('garbage: 200 application/json that JSON.parse rejects', async () => {
    const m = await mock()
    m.setFault('repo/stat', { kind: 'garbage' })
    const r = await post(m, 'repo/stat')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    expect(() => JSON.parse(r.text)).toThrow(SyntaxError)
  })

  it('truncate: part of the body, then the socket is destroyed', async () => {
    const m = await mock()
    const cids = makeCids(50, { seed: 'trunc-' })
    for (const c of cids) m.pins.set(c, { type: 'recursive' })
    m.setFault('pin/ls', { kind: 'truncate' })
    const res = await request(`${m.url}/api/v0/pin/ls?stream=true`, { method: 'POST' })
    expect(res.statusCode).toBe(200)
    const received: Buffer[] = []
    const err = await (async () => {
      for await (const chunk of res.body) received.push(chunk as Buffer)
    })().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    const got = Buffer.concat(received).length
    expect(got).toBeGreaterThan(0)
    expect(got).toBeLessThan(cids.length * 60)
  })

  it('wrong-cid: add reports another valid root CID; the member holds the real one', async () => {
    const m = await mock()
    m.setFault('add', { kind: 'wrong-cid' })
    const r = await add(m, [{ filename: 'hello.txt', content: HELLO_WORLD.text }])
    const [event] = lines(r.text) as Array<{ Hash: string }>
    expect(event.Hash).not.toBe(HW)
    expect(CID.parse(event.Hash).version).toBe(0)
    expect(m.pins.has(HW)).toBe(true)
  })

  it('status: Kubo error JSON with the given status; times: N reverts; * and per-command precedence', async () => {
    const m = await mock()
    m.setFault('pin/add', { kind: 'status', status: 503, message: 'busy', times: 2 })
    const first = await post(m, `pin/add?arg=${HW}`)
    expect(first.status).toBe(503)
    expect(first.text).toBe('{"Message":"busy","Code":0,"Type":"error"}\n')
    expect((await post(m, `pin/add?arg=${HW}`)).status).toBe(503)
    expect(m.pins.size).toBe(0)
    expect((await post(m, `pin/add?arg=${HW}`)).status).toBe(200)

    m.setFault('*', { kind: 'status', status: 500 })
    m.setFault('version', { kind: 'delay', ms: 1 })
    expect((await post(m, 'id')).status).toBe(500)
    expect((await post(m, 'version')).status).toBe(200)
    m.setFault('*', undefined)
    expect((await post(m, 'id')).status).toBe(200)
  })
})

describe('request log', () => {
  it('records command, query, body size and counts per command', async () => {
    const m = await mock()
    await post(m, `pin/add/${HW}`)
    await post(m, `pin/add?arg=${HW}&name=x`)
    await add(m, [{ filename: 'f', content: 'abc' }])
    expect(m.count('pin/add')).toBe(2)
    expect(m.count('add')).toBe(1)
    expect(m.count('*')).toBe(3)
    expect(m.requests.map((r) => r.path)).toEqual(['pin/add', 'pin/add', 'add'])
    expect(m.requests[1].query.get('name')).toBe('x')
    expect(m.requests[2].bodyBytes).toBeGreaterThan(3)
    expect(m.requests[2].method).toBe('POST')
  })
})

describe('kubo-rpc-client against the mock', () => {
  for (const flavor of ['kubo', 'cluster-proxy'] as const) {
    it(`id, version, add, pin.add, pin.ls, pin.rm, repo.stat, cat (${flavor})`, async () => {
      const m = await mock({ flavor })
      const client = create({ url: m.url })
      const id = await client.id()
      expect(id.id.toString()).toBe(m.peerId)
      expect((await client.version()).version).toBe('0.44.0')

      const added = await client.add(HELLO_WORLD.text)
      expect(added.cid.toString()).toBe(HW)
      expect(added.size).toBe(20)
      // The real cluster proxy leaves an unnamed part's Name "" (the interop fidelity diff shows it).
      expect(added.path).toBe(flavor === 'kubo' ? HW : '')

      const [extra] = makeCids(1, { seed: `client-${flavor}-` })
      const pinned = []
      for await (const cid of client.pin.addAll([{ cid: CID.parse(extra) }])) pinned.push(cid.toString())
      expect(pinned).toEqual([extra])
      const listed = []
      for await (const p of client.pin.ls()) listed.push({ cid: p.cid.toString(), type: p.type })
      expect(listed).toEqual([{ cid: HW, type: 'recursive' }, { cid: extra, type: 'recursive' }])
      const one = []
      for await (const p of client.pin.ls({ paths: [CID.parse(extra)] })) one.push(p.cid.toString())
      expect(one).toEqual([extra])

      expect((await client.pin.rm(CID.parse(extra))).toString()).toBe(extra)
      await expect(client.pin.rm(CID.parse(extra))).rejects.toThrow(flavor === 'kubo' ? /not pinned/ : /not part of the pinset/)

      if (flavor === 'kubo') {
        const stat = await client.repo.stat()
        expect(stat).toEqual({ repoSize: 20n, storageMax: 10_000_000_000n, numObjects: 2n, repoPath: '/mock', version: 'fs-repo@18' })
      } else {
        // The real proxy sends only RepoSize and StorageMax; kubo-rpc-client's BigInt(NumObjects) throws on that.
        await expect(client.repo.stat()).rejects.toThrow(TypeError)
      }

      const chunks: Uint8Array[] = []
      for await (const c of client.cat(HW)) chunks.push(c)
      expect(Buffer.concat(chunks).toString()).toBe(HELLO_WORLD.text)
    })
  }

  it('maps context deadline exceeded to TimeoutError', async () => {
    const m = await mock()
    m.setFault('pin/add', { kind: 'delay', ms: 2000 })
    const client = create({ url: m.url })
    const err = await client.pin.add(CID.parse(HW), { timeout: '100ms' }).catch((e: unknown) => e) as Error
    expect(err.name).toBe('TimeoutError')
  })
})
