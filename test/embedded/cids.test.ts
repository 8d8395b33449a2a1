/**
 * @module test/embedded/cids
 * The embedded node must produce Kubo's CIDs byte for byte: the Appendix of
 * kubo-rpc.md, the xorshift32 large-file vectors of js-ipfs-and-libraries-on-node20.md §3,
 * and Kubo's option rules (cid-version 1 ⇒ raw leaves, chunker, hash).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EmbeddedNode } from '../../src/embedded/node.js'
import { addAll, addOne, dir, file, tempNode, xorshift32 } from './helpers.js'

let node: EmbeddedNode
let done: () => Promise<void>
beforeAll(async () => { ({ node, done } = await tempNode()) })
afterAll(async () => { await done() })

describe('Appendix CIDs (kubo-rpc.md)', () => {
  const vectors: Array<[string, string, string, object]> = [
    ['hello world\\n v0', 'hello world\n', 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o', { Size: '20' }],
    ['hello world\\n v1 raw leaf', 'hello world\n', 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4', { cidVersion: 1 }],
    ['hello world\\n v1 dag-pb', 'hello world\n', 'bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby', { cidVersion: 1, rawLeaves: false }],
    ['hello world v0', 'hello world', 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD', { Size: '19' }],
    ['hello world v1 raw leaf', 'hello world', 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e', { cidVersion: 1 }],
    ['hello world v1 dag-pb', 'hello world', 'bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa', { cidVersion: 1, rawLeaves: false }],
    ['hello\\n v0', 'hello\n', 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', { Size: '14' }],
    ['hello\\n v1', 'hello\n', 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am', { cidVersion: 1 }],
    ['hi\\n v0', 'hi\n', 'QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D', { Size: '11' }],
    ['hi\\n v1', 'hi\n', 'bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q', { cidVersion: 1 }],
    ['Hello Worlds!\\n v0', 'Hello Worlds!\n', 'QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH', { Size: '22' }],
    ['empty file v0', '', 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH', { Size: '6' }],
    ['empty file v1', '', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', { cidVersion: 1 }]
  ]
  for (const [label, content, cid, extra] of vectors) {
    it(label, async () => {
      const { Size, ...options } = extra as { Size?: string }
      const ev = await addOne(node, content, options)
      expect(ev.Hash).toBe(cid)
      expect(ev.Name).toBe(cid)
      if (Size !== undefined) expect(ev.Size).toBe(Size)
    })
  }

  it('empty directory', async () => {
    const events = await addAll(node, [dir('empty')])
    expect(events).toEqual([{ Name: 'empty', Hash: 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn', Size: '4' }])
  })

  it('-w around hello.txt', async () => {
    const events = await addAll(node, [file('hello.txt', 'hello world\n')], { wrapWithDirectory: true })
    expect(events).toEqual([
      { Name: 'hello.txt', Hash: 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o', Size: '20' },
      { Name: '', Hash: 'QmfLiVjH2vujCVP2e75zyzBYmpcjktmDeU1YBz6Ct8BBsc', Size: '75' }
    ])
  })
})

describe('xorshift32 large-file vectors (js-ipfs-and-libraries-on-node20.md §3)', () => {
  const MiB = 1 << 20
  const vectors: Array<[string, number, object, string, string?]> = [
    ['1 MiB v0', MiB, {}, 'QmaxmFaakJbtkp7nYevb8pAsadWAXUX1Ugak9zzfTYvXbT', '1048832'],
    ['1 MiB v0 + raw leaves', MiB, { rawLeaves: true }, 'QmdhugWdBTvKRPuNbLUpV357qmqRYb1NVhJDEKu4krSbqs'],
    ['1 MiB v1', MiB, { cidVersion: 1 }, 'bafybeihekfxcwcsuwj3drmrk7qz75d4cxfjgf656kkx4ut244wxj4wukoi'],
    ['46 MiB v0', 46 * MiB, {}, 'QmZ1J1ADU7kyKs6Ymn1jUDy2o4d4oeArwbHEgJ18U7sDdt'],
    ['46 MiB v0 + raw leaves', 46 * MiB, { rawLeaves: true }, 'QmRSYfP7qnV4MakATzbjePZTToh3bhqf7h8GZuZXw3C6wJ'],
    ['46 MiB v1', 46 * MiB, { cidVersion: 1 }, 'bafybeifw34c4bwzjtynmctbawtkxtmjb74q3zgzg6kutfsb7lifnqr4uou']
  ]
  for (const [label, size, options, cid, dagSize] of vectors) {
    it(label, async () => {
      const ev = await addOne(node, xorshift32(size), { ...options, onlyHash: true })
      expect(ev.Hash).toBe(cid)
      if (dagSize !== undefined) expect(ev.Size).toBe(dagSize)
    })
  }

  it('the same bytes stored (not only hashed) give the same CID, and cat returns them', async () => {
    const ev = await addOne(node, xorshift32(MiB))
    expect(ev.Hash).toBe('QmaxmFaakJbtkp7nYevb8pAsadWAXUX1Ugak9zzfTYvXbT')
    const { size, content } = await node.cat(ev.Hash as string)
    expect(size).toBe(BigInt(MiB))
    let expected = Buffer.alloc(0)
    for await (const part of xorshift32(MiB)) expected = Buffer.concat([expected, part])
    const parts: Uint8Array[] = []
    for await (const p of content) parts.push(p)
    expect(Buffer.concat(parts).equals(expected)).toBe(true)
  })
})

describe('import options', () => {
  it('chunker=size-N changes the DAG; size-262144 is the default', async () => {
    const base = await addOne(node, xorshift32(300_000), { onlyHash: true })
    expect((await addOne(node, xorshift32(300_000), { onlyHash: true, chunker: 'size-262144' })).Hash).toBe(base.Hash)
    const small = await addOne(node, xorshift32(300_000), { onlyHash: true, chunker: 'size-1024' })
    expect(small.Hash).not.toBe(base.Hash)
    // 293 leaves of 1024 bytes (the last one shorter) under one root: every leaf is
    // 1024 data + 14 bytes of UnixFS/dag-pb framing.
    expect(Number(small.Size)).toBeGreaterThan(300_000 + 293 * 8)
    // a single chunk file is its own leaf whatever the chunk size
    expect((await addOne(node, 'hello world\n', { chunker: 'size-100', onlyHash: true })).Hash).toBe('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
  })

  it('chunker errors use Kubo/boxo wording', async () => {
    await expect(addOne(node, 'x', { chunker: 'size-0' })).rejects.toThrow('chunker size must be greater than 0')
    await expect(addOne(node, 'x', { chunker: 'size-2096897' })).rejects.toThrow('chunker parameters may not exceed the maximum chunk size of 2096896')
    await expect(addOne(node, 'x', { chunker: 'size-abc' })).rejects.toThrow('strconv.Atoi: parsing "abc": invalid syntax')
    await expect(addOne(node, 'x', { chunker: 'rabin-16-32-64' })).rejects.toThrow('chunker rabin-16-32-64 is not supported by the embedded node')
    await expect(addOne(node, 'x', { chunker: 'buzhash' })).rejects.toThrow('chunker buzhash is not supported by the embedded node')
    await expect(addOne(node, 'x', { chunker: 'bogus' })).rejects.toThrow('unrecognized chunker option: bogus')
    expect((await addOne(node, 'x', { chunker: 'size-2096896', onlyHash: true })).Hash).toMatch(/^Qm/)
  })

  it('hash: sha2-256 only', async () => {
    expect((await addOne(node, 'hello world\n', { hash: 'SHA2-256', onlyHash: true })).Hash).toBe('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
    await expect(addOne(node, 'x', { hash: 'nope' })).rejects.toThrow('unrecognized hash function: "nope"')
    await expect(addOne(node, 'x', { hash: 'blake2b-256' })).rejects.toThrow('hash function "blake2b-256" is not supported by the embedded node')
  })

  it('cid-version other than 0/1 is rejected', async () => {
    await expect(addOne(node, 'x', { cidVersion: 9 })).rejects.toThrow('unknown CID version: 9')
  })

  it('trickle builds a different DAG over several chunks and cats back the bytes', async () => {
    const balanced = await addOne(node, xorshift32(1 << 20), { chunker: 'size-4096', onlyHash: true })
    const trickle = await addOne(node, xorshift32(1 << 20), { chunker: 'size-4096', trickle: true })
    expect(trickle.Hash).not.toBe(balanced.Hash)
    const { content } = await node.cat(trickle.Hash as string)
    let n = 0
    for await (const p of content) n += p.byteLength
    expect(n).toBe(1 << 20)
  })
})
