/**
 * @module test/embedded/stream
 * A 64 MiB add must stream: blocks are written as the bytes arrive and memory does not
 * grow with the file. In its own file so the measurements start from a fresh process.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, beforeEach, expect, it } from 'vitest'
import type { EmbeddedNode } from '../../src/embedded/node.js'
import { entriesOf, file, tempNode, xorshift32 } from './helpers.js'

let node: EmbeddedNode
let done: () => Promise<void>
beforeEach(async () => { ({ node, done } = await tempNode()) })
afterEach(async () => { await done() })

  it('a 64 MiB file streams through without being held in memory', async () => {
    const size = 64 << 20
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    gc()
    const base = process.memoryUsage()
    let maxAhead = 0
    let maxLiveBuffers = 0
    let rssAt16 = 0
    let rssPeak = 0
    let read = 0
    const source = async function * (): AsyncGenerator<Uint8Array> {
      for await (const chunk of xorshift32(size, 99)) {
        read += chunk.byteLength
        // bytes taken from the request minus bytes already written as blocks
        maxAhead = Math.max(maxAhead, read - Number((await node.repoStat({ sizeOnly: true })).RepoSize))
        if (read % (4 << 20) === 0) {
          gc()
          const m = process.memoryUsage()
          maxLiveBuffers = Math.max(maxLiveBuffers, m.arrayBuffers - base.arrayBuffers)
          if (read === 16 << 20) rssAt16 = m.rss
          rssPeak = Math.max(rssPeak, m.rss)
        }
        yield chunk
      }
    }
    const hashes: string[] = []
    for await (const ev of node.add(entriesOf(file('big.bin', source())), { progress: true })) {
      if (ev.Hash !== undefined) hashes.push(ev.Hash)
    }
    expect(hashes).toHaveLength(1)
    expect(maxAhead).toBeLessThan(8 << 20) // blocks are written as the bytes arrive
    // Live buffer memory stays flat (the library's default leaf builder held up to 174
    // chunks, ~44 MiB, here) and RSS stops growing once the pipeline is warm.
    expect(maxLiveBuffers).toBeLessThan(24 << 20)
    expect(rssPeak - rssAt16).toBeLessThan(24 << 20)
    expect(rssPeak - base.rss).toBeLessThan(size * 3 / 4)
    expect((await node.repoStat()).RepoSize).toBeGreaterThan(BigInt(size))
    // and cat streams it back out
    let n = 0
    for await (const p of (await node.cat(hashes[0])).content) n += p.byteLength
    expect(n).toBe(size)
  }, 120_000)
