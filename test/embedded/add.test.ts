/**
 * @module test/embedded/add
 * Kubo's `add` event stream from the embedded node: names, order, sizes, progress,
 * wrap-with-directory, several top-level entries, directories (explicit, implicit,
 * HAMT-sharded), pinning and only-hash, and that a large file streams through.
 */
import { importer } from 'ipfs-unixfs-importer'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AddEntry, EmbeddedNode } from '../../src/embedded/node.js'
import { addAll, bytesOf, collect, concat, dir, entriesOf, file, tempNode, xorshift32 } from './helpers.js'

const HELLO = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
const EMPTY_DIR = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

let node: EmbeddedNode
let done: () => Promise<void>
beforeEach(async () => { ({ node, done } = await tempNode()) })
afterEach(async () => { await done() })

/** What the plain library importer gives for the same tree (cross-check of our dag builder). */
async function libraryCids (entries: Array<{ path: string, content?: string }>, wrap: boolean): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const store = { put: async (c: any) => c }
  const source = entries.map(e => e.content === undefined ? { path: e.path } : { path: e.path, content: Buffer.from(e.content) })
  for await (const r of importer(source, store, { cidVersion: 0, rawLeaves: false, wrapWithDirectory: wrap })) out.set(r.path ?? '', r.cid.toString())
  return out
}

describe('single files', () => {
  it('a named file is named by its filename, an unnamed one by its CID', async () => {
    expect(await addAll(node, [file('hello.txt', 'hello world\n')])).toEqual([{ Name: 'hello.txt', Hash: HELLO, Size: '20' }])
    expect(await addAll(node, [file('', 'hello world\n')])).toEqual([{ Name: HELLO, Hash: HELLO, Size: '20' }])
  })

  it('progress: Bytes every 256 KiB and at EOF, after which the result comes', async () => {
    const size = 600 * 1024
    const events = await addAll(node, [file('big.bin', xorshift32(size, 7, 100_000))], { progress: true })
    const progress = events.filter(e => e.Hash === undefined)
    expect(progress.every(e => e.Name === 'big.bin' && Object.keys(e).join() === 'Name,Bytes')).toBe(true)
    expect(progress.map(e => e.Bytes)).toEqual([300_000, 600_000, size])
    expect(events[events.length - 1]).toMatchObject({ Name: 'big.bin' })
    expect(events[events.length - 1].Hash).toMatch(/^Qm/)
  })

  it('progress of an empty file is a bare {Name}; unnamed files report progress under ""', async () => {
    expect(await addAll(node, [file('empty', '')], { progress: true })).toEqual([
      { Name: 'empty' },
      { Name: 'empty', Hash: 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH', Size: '6' }
    ])
    expect(await addAll(node, [file('', 'hello world\n')], { progress: true })).toEqual([
      { Name: '', Bytes: 12 },
      { Name: HELLO, Hash: HELLO, Size: '20' }
    ])
  })

  it('silent suppresses file events', async () => {
    expect(await addAll(node, [file('hello.txt', 'hello world\n')], { silent: true })).toEqual([])
  })

  it('mode and mtime of the top-level entry are stored and echoed on its events', async () => {
    const entry: AddEntry = { path: 'm.txt', kind: 'file', content: bytesOf('hello world\n'), mode: 0o644, mtime: { secs: 1_700_000_000, nsecs: 5 } }
    const [ev] = await addAll(node, [entry])
    expect(ev).toMatchObject({ Name: 'm.txt', Mode: '0644', Mtime: 1_700_000_000, MtimeNsecs: 5 })
    expect(Object.keys(ev)).toEqual(['Name', 'Hash', 'Size', 'Mode', 'Mtime', 'MtimeNsecs'])
    expect(ev.Hash).not.toBe(HELLO)
    // one chunk + metadata: the node must still hold the file bytes (the library's default
    // leaf builder would store the encoded leaf node here instead)
    expect((await concat((await node.cat(ev.Hash as string)).content)).toString()).toBe('hello world\n')
    const multi: AddEntry = { path: 'm2', kind: 'file', content: xorshift32(600_000), mode: 0o600 }
    const [ev2] = await addAll(node, [multi])
    expect((await node.cat(ev2.Hash as string)).size).toBe(600_000n)
  })

  it('a symlink is a UnixFS symlink node', async () => {
    const [ev] = await addAll(node, [{ path: 'link', kind: 'symlink', content: bytesOf('target.txt') }])
    expect(ev.Name).toBe('link')
    await expect(node.cat(ev.Hash as string)).rejects.toThrow('this dag node is not a regular file')
  })

  it('no entries at all is an error', async () => {
    await expect(addAll(node, [])).rejects.toThrow('expected a file argument')
  })
})

describe('several entries and directories', () => {
  it('each top-level file is its own root, each is pinned', async () => {
    const events = await addAll(node, [file('a.txt', 'hello world\n'), file('b.txt', 'hi\n')])
    expect(events).toEqual([
      { Name: 'a.txt', Hash: HELLO, Size: '20' },
      { Name: 'b.txt', Hash: 'QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D', Size: '11' }
    ])
    const pins = await collect(node.pinLs({ type: 'recursive' }))
    expect(pins.map(p => p.cid.toString()).sort()).toEqual([HELLO, 'QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'].sort())
  })

  it('a directory: files in arrival order, then directories post-order, siblings sorted, root last', async () => {
    const tree = [
      dir('d'), file('d/z.txt', 'hello world\n'), dir('d/sub'), file('d/sub/b.txt', 'hi\n'),
      dir('d/a-sub'), file('d/a-sub/c.txt', 'hello\n'), dir('d/empty'), file('d/a.txt', 'Hello Worlds!\n')
    ]
    const events = await addAll(node, tree)
    expect(events.map(e => e.Name)).toEqual(['d/z.txt', 'd/sub/b.txt', 'd/a-sub/c.txt', 'd/a.txt', 'd/a-sub', 'd/empty', 'd/sub', 'd'])
    const byName = Object.fromEntries(events.map(e => [e.Name, e]))
    expect(byName['d/empty']).toEqual({ Name: 'd/empty', Hash: EMPTY_DIR, Size: '4' })
    const lib = await libraryCids([
      { path: 'd/z.txt', content: 'hello world\n' }, { path: 'd/sub/b.txt', content: 'hi\n' },
      { path: 'd/a-sub/c.txt', content: 'hello\n' }, { path: 'd/empty' }, { path: 'd/a.txt', content: 'Hello Worlds!\n' }
    ], false)
    for (const name of ['d', 'd/sub', 'd/a-sub']) expect(byName[name].Hash).toBe(lib.get(name))
    // Size is the cumulative DAG size: for d, its block plus its links' sizes
    const root = await node.blockStat(byName.d.Hash as string)
    const childSizes = ['d/z.txt', 'd/sub', 'd/a-sub', 'd/empty', 'd/a.txt'].reduce((n, k) => n + Number(byName[k].Size), 0)
    expect(Number(byName.d.Size)).toBe(root.Size + childSizes)
    // only the root of the entry is pinned
    expect((await collect(node.pinLs({ type: 'recursive' }))).map(p => p.cid.toString())).toEqual([byName.d.Hash])
    expect((await concat((await node.cat(`/ipfs/${byName.d.Hash}/sub/b.txt`)).content)).toString()).toBe('hi\n')
  })

  it('implicit directories (children without a directory part) are created', async () => {
    const events = await addAll(node, [file('d/x/a.txt', 'hello world\n'), file('d/b.txt', 'hi\n')])
    expect(events.map(e => e.Name)).toEqual(['d/x/a.txt', 'd/b.txt', 'd/x', 'd'])
    const lib = await libraryCids([{ path: 'd/x/a.txt', content: 'hello world\n' }, { path: 'd/b.txt', content: 'hi\n' }], false)
    expect(events[3].Hash).toBe(lib.get('d'))
  })

  it('a file, a directory and a file: three roots in order, each pinned', async () => {
    const events = await addAll(node, [file('one.txt', 'hello world\n'), dir('d'), file('d/in.txt', 'hi\n'), file('two.txt', 'hello\n')])
    expect(events.map(e => e.Name)).toEqual(['one.txt', 'd/in.txt', 'd', 'two.txt'])
    const roots = [events[0].Hash, events[2].Hash, events[3].Hash]
    expect((await collect(node.pinLs({ type: 'recursive' }))).map(p => p.cid.toString()).sort()).toEqual(roots.sort())
  })

  it('-w: all files, then the directories, then the wrapper "" last; only the wrapper is pinned', async () => {
    const events = await addAll(node, [file('b.txt', 'hi\n'), dir('d'), file('d/c.txt', 'hello\n'), file('a.txt', 'hello world\n')], { wrapWithDirectory: true, pinName: 'wrapped' })
    expect(events.map(e => e.Name)).toEqual(['b.txt', 'd/c.txt', 'a.txt', 'd', ''])
    const lib = await libraryCids([{ path: 'b.txt', content: 'hi\n' }, { path: 'd/c.txt', content: 'hello\n' }, { path: 'a.txt', content: 'hello world\n' }], true)
    expect(events[4].Hash).toBe(lib.get(''))
    expect(await collect(node.pinLs())).toEqual(expect.arrayContaining([{ cid: expect.anything(), type: 'recursive', name: 'wrapped' }]))
    const recursive = await collect(node.pinLs({ type: 'recursive' }))
    expect(recursive.map(p => p.cid.toString())).toEqual([events[4].Hash])
  })

  it('-w around an unnamed file links it under its CID', async () => {
    const events = await addAll(node, [file('', 'hello world\n')], { wrapWithDirectory: true })
    expect(events[0]).toEqual({ Name: HELLO, Hash: HELLO, Size: '20' })
    expect(events[1].Name).toBe('')
    expect((await concat((await node.cat(`${events[1].Hash}/${HELLO}`)).content)).toString()).toBe('hello world\n')
  })

  it('silent keeps directory events (a Kubo quirk)', async () => {
    const events = await addAll(node, [dir('d'), file('d/a.txt', 'x')], { silent: true })
    expect(events.map(e => e.Name)).toEqual(['d'])
  })

  it('CIDv1 directories', async () => {
    const events = await addAll(node, [dir('d'), file('d/a.txt', 'hello world\n')], { cidVersion: 1 })
    expect(events[0].Hash).toBe('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
    expect(events[1].Hash).toMatch(/^bafybei/)
  })

  it('a directory big enough to become a HAMT shard, with a subdirectory inside it', async () => {
    const n = 7000 // 7000 × (8-byte name + 34-byte CIDv0) = 294,000 > 262,144 bytes of links
    const entries = async function * (): AsyncGenerator<AddEntry> {
      yield dir('big')
      for (let i = 0; i < n; i++) yield file(`big/f-${String(i).padStart(6, '0')}`, `${i}\n`)
      yield dir('big/zz-sub')
      yield file('big/zz-sub/inner.txt', 'hello world\n')
    }
    const events = await collect(node.add(entries()))
    const dirs = events.slice(n + 1)
    expect(dirs.map(e => e.Name)).toEqual(['big/zz-sub', 'big'])
    const sub = dirs[0]
    const libSub = await libraryCids([{ path: 'zz-sub/inner.txt', content: 'hello world\n' }], false)
    expect(sub.Hash).toBe(libSub.get('zz-sub'))
    const node0 = await node.blockGet(dirs[1].Hash as string)
    expect(node0.byteLength).toBeLessThan(20_000) // a shard root, not a 300 KB flat directory
    expect((await concat((await node.cat(`/ipfs/${dirs[1].Hash}/f-004321`)).content)).toString()).toBe('4321\n')
    expect((await concat((await node.cat(`/ipfs/${dirs[1].Hash}/zz-sub/inner.txt`)).content)).toString()).toBe('hello world\n')
  }, 120_000)
})

describe('storage and pinning', () => {
  it('pin=false stores without pinning; pin-name names the pin', async () => {
    await addAll(node, [file('a', 'hello world\n')], { pin: false })
    expect(node.has((await node.resolve(HELLO)))).toBe(true)
    expect(await collect(node.pinLs())).toEqual([])
    await addAll(node, [file('a', 'hello world\n')], { pinName: 'greeting' })
    expect((await collect(node.pinLs())).map(p => [p.cid.toString(), p.type, p.name])).toEqual([[HELLO, 'recursive', 'greeting']])
  })

  it('only-hash stores and pins nothing', async () => {
    const events = await addAll(node, [dir('d'), file('d/a', 'hello world\n')], { onlyHash: true })
    expect(events.map(e => e.Name)).toEqual(['d/a', 'd'])
    expect((await node.repoStat()).NumObjects).toBe(0n)
    expect(await collect(node.pinLs())).toEqual([])
  })

  it('pin-name without pin, and over-long names, are rejected before reading', async () => {
    await expect(addAll(node, [file('a', 'x')], { pin: false, pinName: 'n' })).rejects.toThrow('pin-name option requires pin to be set')
    await expect(addAll(node, [file('a', 'x')], { pinName: 'x'.repeat(256) })).rejects.toThrow('pin name is 256 bytes (max 255 bytes)')
  })

  it('an aborted signal stops the add', async () => {
    const ctl = new AbortController()
    ctl.abort(new Error('client went away'))
    await expect(addAll(node, [file('a', 'x')], { signal: ctl.signal })).rejects.toThrow('client went away')
    const slow = new AbortController()
    const content = async function * (): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(300_000)
      slow.abort(new Error('stop now'))
      yield Buffer.alloc(300_000)
    }
    await expect(addAll(node, [file('a', content())], { signal: slow.signal })).rejects.toThrow('stop now')
    expect(await collect(node.pinLs())).toEqual([])
  })

  it('entries are consumed one at a time: the next entry is not requested before the previous content is read', async () => {
    let reading = false
    const source = async function * (): AsyncGenerator<AddEntry> {
      for (const name of ['a', 'b', 'c']) {
        expect(reading).toBe(false)
        reading = true
        yield {
          path: `d/${name}`,
          kind: 'file',
          content: (async function * () { yield Buffer.from(name); reading = false })()
        }
      }
    }
    const events = await collect(node.add(source()))
    expect(events.map(e => e.Name)).toEqual(['d/a', 'd/b', 'd/c', 'd'])
  })
})
