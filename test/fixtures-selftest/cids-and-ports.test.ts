/**
 * @module test/fixtures-selftest/cids-and-ports
 * Self-tests of the CID fixtures (known values, generators) and the free-port helper.
 */
import { createServer } from 'node:net'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import {
  EMPTY_FILE, HELLO, HELLO_WORLD, HELLO_WORLD_NO_NL, HI, NOT_A_CID,
  cidStream, contentFor, fileCidV0, fileCidV1, isCid, makeCids, rawCid,
} from '../fixtures/cids.js'
import { getFreePort, getFreePorts } from '../fixtures/free-port.js'

describe('cids', () => {
  it('computes the known Kubo CIDs', () => {
    for (const known of [HELLO_WORLD, HELLO_WORLD_NO_NL, HELLO, HI, EMPTY_FILE]) {
      expect(fileCidV0(known.text).toString()).toBe(known.v0)
      expect(fileCidV1(known.text).toString()).toBe(known.v1)
    }
    expect(rawCid('hello world\n').toString()).toBe(HELLO_WORLD.v1)
    expect(isCid(HELLO_WORLD.v0)).toBe(true)
    expect(isCid(NOT_A_CID)).toBe(false)
  })

  it('makes many distinct, valid, deterministic CIDs', () => {
    const v0 = makeCids(2000)
    const v1 = makeCids(2000, { version: 1 })
    expect(new Set(v0).size).toBe(2000)
    expect(new Set(v1).size).toBe(2000)
    expect(v0.every((c) => c.startsWith('Qm') && CID.parse(c).version === 0)).toBe(true)
    expect(v1.every((c) => c.startsWith('bafkrei') && CID.parse(c).code === 0x55)).toBe(true)
    expect(makeCids(3)).toEqual(v0.slice(0, 3))
    expect(makeCids(3, { seed: 'x' })).not.toEqual(v0.slice(0, 3))
    expect(makeCids(2, { start: 5 })).toEqual(v0.slice(5, 7))
    expect(fileCidV0(contentFor(7)).toString()).toBe(v0[7])
    const stream = cidStream({ version: 1 })
    expect([stream.next().value, stream.next().value]).toEqual(v1.slice(0, 2))
  })
})

describe('free-port', () => {
  it('returns distinct loopback ports that can be bound', async () => {
    const ports = await getFreePorts(5)
    expect(new Set(ports).size).toBe(5)
    const port = await getFreePort()
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
})
