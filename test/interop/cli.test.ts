/**
 * The Go `ipfs` CLI with `--api` at the hub (members: the two sub-clusters' proxies) and at
 * a lone Kubo daemon: every command's exit code and output must be the same, apart from
 * what is the daemon's own (peer IDs, repo sizes, version numbers).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cliBoth, composite, ipfsCli, makeTree, uniqueText } from './helpers.js'

function lines (s: string): string[] {
  return s.split('\n').filter(Boolean)
}

async function addBoth (args: string[]): Promise<string[]> {
  const { hub, ref } = await cliBoth(['add', ...args])
  expect(hub.stderr).toBe(ref.stderr)
  expect(hub.code, hub.stderr).toBe(0)
  expect(ref.code, ref.stderr).toBe(0)
  expect(hub.stdout).toBe(ref.stdout)
  return lines(hub.stdout)
}

describe('ipfs add through the hub', () => {
  it('a file', async () => {
    const tree = await makeTree({ 'f.txt': uniqueText('cli file') })
    const out = await addBoth([join(tree, 'f.txt')])
    expect(out[0]).toMatch(/^added Qm\w+ f\.txt$/)
  })

  it('a directory with -r, and -w', async () => {
    const tree = await makeTree({ 'd/a.txt': uniqueText('a'), 'd/sub/b.txt': uniqueText('b'), 'd/sub/c.bin': Buffer.alloc(300_000, 7) })
    const out = await addBoth(['-r', join(tree, 'd')])
    expect(out.map(l => l.split(' ')[2])).toEqual(['d/a.txt', 'd/sub/b.txt', 'd/sub/c.bin', 'd/sub', 'd'])
    await addBoth(['-w', join(tree, 'd/a.txt'), join(tree, 'd/sub/b.txt')])
    await addBoth(['-r', '-w', join(tree, 'd')])
  })

  it('--cid-version=1, --raw-leaves, -q and --pin=false', async () => {
    const tree = await makeTree({ 'big.bin': Buffer.alloc(600_000, 3), 'small.txt': uniqueText('small') })
    const v1 = await addBoth(['--cid-version=1', join(tree, 'small.txt')])
    expect(v1[0]).toMatch(/^added bafk\w+ small\.txt$/)
    await addBoth(['--raw-leaves', join(tree, 'big.bin')])
    await addBoth(['-q', '--cid-version=1', '--raw-leaves=false', join(tree, 'big.bin')])
    const text = uniqueText('not pinned')
    await writeFile(join(tree, 'np.txt'), text)
    const [line] = await addBoth(['--pin=false', join(tree, 'np.txt')])
    const cid = line.split(' ')[1]
    const { hub, ref } = await cliBoth(['pin', 'ls', cid])
    expect(hub.code).not.toBe(0)
    expect(hub.stderr).toBe(ref.stderr)
  })

  it('stdin', async () => {
    const text = uniqueText('stdin')
    const { hub, ref } = await cliBoth(['add', '-q'], text)
    expect(hub.code, hub.stderr).toBe(0)
    expect(hub.stdout).toBe(ref.stdout)
  })
})

describe('ipfs pin through the hub', () => {
  async function addUnpinned (label: string): Promise<string> {
    const tree = await makeTree({ [`${label}.txt`]: uniqueText(label) })
    const [line] = await addBoth(['-q', '--pin=false', join(tree, `${label}.txt`)])
    return line
  }

  it('pin add several CIDs, --recursive=false, pin ls in every form, pin rm', async () => {
    const [c1, c2, c3] = [await addUnpinned('p1'), await addUnpinned('p2'), await addUnpinned('p3')]
    let r = await cliBoth(['pin', 'add', c1, c2])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    expect(r.hub.stdout).toBe(r.ref.stdout)
    r = await cliBoth(['pin', 'add', '--recursive=false', c3])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    expect(r.hub.stdout).toBe(r.ref.stdout)

    // With an argument, and with an unknown one. Without --stream the CLI prints a Go map,
    // in no fixed order, so lines are compared as sets there.
    const sorted = (s: string): string[] => lines(s).sort()
    for (const args of [[c1], [c1, c3], ['--type=recursive', c2], ['--type=direct', c3], ['--stream', c3, c1], ['--quiet', c1, c2]]) {
      r = await cliBoth(['pin', 'ls', ...args])
      expect(r.hub.code, `${args.join(' ')}: ${r.hub.stderr}`).toBe(0)
      if (args.includes('--stream')) expect(r.hub.stdout).toBe(r.ref.stdout)
      else expect(sorted(r.hub.stdout), args.join(' ')).toEqual(sorted(r.ref.stdout))
    }
    const unknown = await addUnpinned('unknown')
    for (const args of [[unknown], ['--type=direct', c1], ['QmNotACid']]) {
      r = await cliBoth(['pin', 'ls', ...args])
      expect(r.hub.code, args.join(' ')).toBe(r.ref.code)
      expect(r.hub.stderr, args.join(' ')).toBe(r.ref.stderr)
    }

    // No argument, each type, streamed: our CIDs appear alike in both listings.
    const ours = new Set([c1, c2, c3])
    for (const args of [[], ['--type=all'], ['--type=recursive'], ['--type=direct'], ['--type=indirect'], ['--stream'], ['--stream', '--type=recursive']]) {
      r = await cliBoth(['pin', 'ls', ...args])
      expect(r.hub.code, `${args.join(' ')}: ${r.hub.stderr}`).toBe(0)
      const pick = (s: string): string[] => lines(s).filter(l => ours.has(l.split(' ')[0])).sort()
      expect(pick(r.hub.stdout), args.join(' ')).toEqual(pick(r.ref.stdout))
    }
    r = await cliBoth(['pin', 'ls', '--type=bogus'])
    expect(r.hub.code).toBe(r.ref.code)
    expect(r.hub.stderr).toBe(r.ref.stderr)

    r = await cliBoth(['pin', 'rm', c1, c3])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    expect(r.hub.stdout).toBe(r.ref.stdout)
    r = await cliBoth(['pin', 'rm', c1])
    expect(r.hub.code).toBe(r.ref.code)
    expect(r.hub.stderr).toBe(r.ref.stderr)
  })

  it('pin update', async () => {
    const [from, to] = [await addUnpinned('from'), await addUnpinned('to')]
    let r = await cliBoth(['pin', 'add', from])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    r = await cliBoth(['pin', 'update', from, to])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    expect(r.hub.stdout).toBe(r.ref.stdout)
    r = await cliBoth(['pin', 'ls', to])
    expect(r.hub.stdout).toBe(r.ref.stdout) // one line: no ordering question
    r = await cliBoth(['pin', 'ls', from])
    expect(r.hub.code).toBe(r.ref.code)
    expect(r.hub.stderr).toBe(r.ref.stderr)
  })
})

describe('other commands through the hub', () => {
  it('cat', async () => {
    const tree = await makeTree({ 'c.txt': uniqueText('cat') })
    const [line] = await addBoth(['-q', join(tree, 'c.txt')])
    const r = await cliBoth(['cat', line])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    expect(r.hub.stdout).toBe(r.ref.stdout)
    const missing = await cliBoth(['cat', 'QmNotACid'])
    expect(missing.hub.code).toBe(missing.ref.code)
    expect(missing.hub.stderr).toBe(missing.ref.stderr)
  })

  it('repo stat has the same fields, summed over the sub-clusters', async () => {
    const r = await cliBoth(['repo', 'stat'])
    expect(r.hub.code, r.hub.stderr).toBe(0)
    const keys = (s: string): string[] => lines(s).map(l => l.split(':')[0].trim())
    expect(keys(r.hub.stdout)).toEqual(keys(r.ref.stdout))
    const size = (s: string): number => Number(/RepoSize:\s+(\d+)/.exec(s)?.[1])
    expect(size(r.hub.stdout)).toBeGreaterThan(0)
    const sizeOnly = await cliBoth(['repo', 'stat', '--size-only'])
    expect(keys(sizeOnly.hub.stdout)).toEqual(keys(sizeOnly.ref.stdout))
  })

  it('id and version have the shape of a Kubo daemon', async () => {
    const info = composite()
    const id = await cliBoth(['id'])
    expect(id.hub.code, id.hub.stderr).toBe(0)
    const hubId = JSON.parse(id.hub.stdout) as Record<string, unknown>
    expect(Object.keys(hubId)).toEqual(Object.keys(JSON.parse(id.ref.stdout) as object))
    expect(hubId.ID).toMatch(/^12D3KooW/)
    const v = await cliBoth(['version'])
    expect(v.hub.code, v.hub.stderr).toBe(0)
    expect(v.hub.stdout).toMatch(/^ipfs version \d+\.\d+\.\d+(-[\w.]+)?\n$/)
    expect(v.ref.stdout).toMatch(/^ipfs version \d+\.\d+\.\d+(-[\w.]+)?\n$/)
    const all = await ipfsCli(info.hub.addr, ['version', '--all'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toMatch(/Kubo version: /)
  })
})
