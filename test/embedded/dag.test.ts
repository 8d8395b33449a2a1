/**
 * @module test/embedded/dag
 * CAR export/import between two embedded nodes, and the UnixFS read side: cat with
 * offset/length and Kubo's errors, path forms, resolve.
 */
import { CarBlockIterator, CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EmbeddedNode } from '../../src/embedded/node.js'
import { addAll, addOne, collect, concat, dir, file, tempNode, xorshift32 } from './helpers.js'

const HELLO = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
const ABSENT = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'

let a: EmbeddedNode
let b: EmbeddedNode
let doneA: () => Promise<void>
let doneB: () => Promise<void>
beforeEach(async () => {
  ({ node: a, done: doneA } = await tempNode());
  ({ node: b, done: doneB } = await tempNode())
})
afterEach(async () => { await doneA(); await doneB() })

async function tree (node: EmbeddedNode): Promise<string> {
  const events = await addAll(node, [dir('site'), file('site/index.html', '<h1>hi</h1>\n'), dir('site/img'), file('site/img/big.bin', xorshift32(700_000)), file('site/readme', 'hello world\n')])
  return events.at(-1)?.Hash as string
}

describe('dag export / import', () => {
  it('round-trips a DAG into a second node with identical CIDs, pinned', async () => {
    const root = await tree(a)
    const car = await concat(a.dagExport(root))
    const blocks = await CarBlockIterator.fromBytes(car)
    expect((await blocks.getRoots()).map(String)).toEqual([root])
    const cids = (await collect(blocks)).map(bl => bl.cid.toString())
    expect(cids[0]).toBe(root) // depth-first, root first
    expect(new Set(cids).size).toBe(cids.length) // each block once
    expect(BigInt(cids.length)).toBe((await a.repoStat()).NumObjects)

    const result = await b.dagImport((async function * () { yield car.subarray(0, 1000); yield car.subarray(1000) })())
    expect(result.roots.map(r => [r.cid.toString(), r.pinError])).toEqual([[root, undefined]])
    expect(result.stats.blockCount).toBe(cids.length)
    expect((await collect(b.pinLs({ type: 'recursive' }))).map(p => p.cid.toString())).toEqual([root])
    expect(await b.repoStat({ sizeOnly: true })).toEqual(await a.repoStat({ sizeOnly: true }))
    expect((await concat((await b.cat(`/ipfs/${root}/readme`)).content)).toString()).toBe('hello world\n')
    // re-adding the same files on b gives the same root: same CIDs on both sides
    expect(await tree(b)).toBe(root)
    // and exporting from b gives the same bytes
    expect((await concat(b.dagExport(root))).equals(car)).toBe(true)
  })

  it('export streams: the CAR is produced chunk by chunk', async () => {
    const root = (await addOne(a, xorshift32(2_000_000))).Hash as string
    let chunks = 0
    for await (const _ of a.dagExport(root)) chunks++
    expect(chunks).toBeGreaterThan(10)
  })

  it('export of a missing root fails before any byte; a missing inner block fails the stream', async () => {
    await expect(collect(a.dagExport(ABSENT))).rejects.toThrow(`ipld: could not find ${ABSENT}`)
    const root = (await addOne(a, xorshift32(700_000), { pin: false })).Hash as string
    const { decode } = await import('@ipld/dag-pb')
    const leaf = decode(await a.blockGet(root)).Links[1].Hash
    await a.blockRm([leaf])
    const got: Uint8Array[] = []
    await expect((async () => { for await (const c of a.dagExport(root)) got.push(c) })()).rejects.toThrow(`ipld: could not find ${leaf.toString()}`)
    expect(got.length).toBeGreaterThan(0)
  })

  it('import with pinRoots=false stores without pinning; an incomplete root reports PinErrorMsg', async () => {
    const root = await tree(a)
    const car = await concat(a.dagExport(root))
    const r1 = await b.dagImport([car], { pinRoots: false })
    expect(r1.roots).toEqual([{ cid: CID.parse(root) }])
    expect(await collect(b.pinLs())).toEqual([])

    // a CAR whose header names a root that is not in it
    const { writer, out } = CarWriter.create([CID.parse(ABSENT)])
    const bytes = Buffer.from('hello world\n')
    const leafCid = CID.createV1(0x55, await sha256.digest(bytes))
    const written = concat(out)
    await writer.put({ cid: leafCid, bytes })
    await writer.close()
    const r2 = await b.dagImport([await written])
    expect(r2.roots).toEqual([{ cid: CID.parse(ABSENT), pinError: `ipld: could not find ${ABSENT}` }])
    expect(b.has(leafCid)).toBe(true)
  })

  it('import rejects a block whose bytes do not match its CID', async () => {
    const { writer, out } = CarWriter.create([CID.parse(HELLO)])
    const written = concat(out)
    await writer.put({ cid: CID.parse(HELLO), bytes: Buffer.from('not the right bytes') })
    await writer.close()
    await expect(b.dagImport([await written])).rejects.toThrow('data did not match given hash')
  })
})

describe('cat and resolve', () => {
  it('offset and length, clamped like Kubo', async () => {
    const root = (await addOne(a, 'hello world\n')).Hash as string
    const read = async (o: { offset?: number, length?: number }): Promise<[string, bigint]> => {
      const r = await a.cat(root, o)
      return [(await concat(r.content)).toString(), r.size]
    }
    expect(await read({})).toEqual(['hello world\n', 12n])
    expect(await read({ offset: 6 })).toEqual(['world\n', 6n])
    expect(await read({ offset: 6, length: 3 })).toEqual(['wor', 3n])
    expect(await read({ length: 0 })).toEqual(['', 0n])
    expect(await read({ offset: 100 })).toEqual(['', 0n])
    expect(await read({ offset: 10, length: 100 })).toEqual(['d\n', 2n])
    await expect(a.cat(root, { offset: -1 })).rejects.toThrow('cannot specify negative offset')
    await expect(a.cat(root, { length: -1 })).rejects.toThrow('cannot specify negative length')
  })

  it('offsets across chunk boundaries of a multi-block file', async () => {
    const root = (await addOne(a, xorshift32(700_000))).Hash as string
    const all = await concat(xorshift32(700_000))
    const part = await concat((await a.cat(root, { offset: 262_000, length: 300_000 })).content)
    expect(part.equals(all.subarray(262_000, 562_000))).toBe(true)
  })

  it('path forms, directories and Kubo\'s errors', async () => {
    const root = await tree(a)
    for (const p of [`/ipfs/${root}/readme`, `ipfs://${root}/readme`, `${root}/readme`, HELLO, CID.parse(HELLO).toV1().toString(), `/ipfs/${root}/readme/`]) {
      expect((await concat((await a.cat(p)).content)).toString()).toBe('hello world\n')
    }
    await expect(a.cat(root)).rejects.toThrow(/^this dag node is a directory$/)
    await expect(a.cat(`/ipfs/${root}/img`)).rejects.toThrow('this dag node is a directory')
    await expect(a.cat(`/ipfs/${root}/nope`)).rejects.toThrow(`no link named "nope" under ${root}`)
    await expect(a.cat(`/ipfs/${root}/readme/deeper`)).rejects.toThrow(`no link named "deeper" under ${HELLO}`)
    await expect(a.cat(ABSENT)).rejects.toThrow(`ipld: could not find ${ABSENT}`)
    await expect(a.cat('/ipns/example.com')).rejects.toThrow('the embedded node is offline')
    await expect(a.cat('bogus')).rejects.toThrow('invalid path "bogus"')
  })

  it('resolve gives the CID a path names; a bare CID needs no block', async () => {
    const root = await tree(a)
    expect((await a.resolve(`/ipfs/${root}/readme`)).toString()).toBe(HELLO)
    expect((await a.resolve(ABSENT)).toString()).toBe(ABSENT)
    expect((await a.resolve(`/ipfs/${root}/img`)).toString()).toMatch(/^Qm/)
  })

  it('stops on an aborted signal', async () => {
    const root = (await addOne(a, xorshift32(700_000))).Hash as string
    const ctl = new AbortController()
    const { content } = await a.cat(root, { signal: ctl.signal })
    ctl.abort(new Error('gone'))
    await expect(concat(content)).rejects.toThrow('gone')
  })
})
