/** repo/stat numbers are u64: parsed exactly from the text, summed with saturation. */
import { describe, expect, it } from 'vitest'
import { addU64, parseRepoStat, U64_MAX } from '../../src/members/repo-stat.js'

describe('parseRepoStat', () => {
  it('reads u64 numbers exactly, numeric strings too, and escaped strings', () => {
    const s = parseRepoStat('{"RepoSize":18446744073709551615,"StorageMax":"10000000000","NumObjects":3,"RepoPath":"/a\\"b","Version":"fs-repo@18"}')
    expect(s).toEqual({ RepoSize: U64_MAX, StorageMax: 10_000_000_000n, NumObjects: 3n, RepoPath: '/a"b', Version: 'fs-repo@18' })
  })
  it("accepts the cluster proxy's two-field answer", () => {
    expect(parseRepoStat('{"RepoSize":5,"StorageMax":7}')).toEqual({ RepoSize: 5n, StorageMax: 7n, NumObjects: 0n, RepoPath: '', Version: '' })
  })
  it('refuses an answer without RepoSize', () => {
    expect(() => parseRepoStat('{"Message":"nope"}')).toThrow(/no RepoSize/)
  })
  it('saturates sums at 2^64-1', () => {
    expect(addU64(U64_MAX, 1n)).toBe(U64_MAX)
    expect(addU64(2n ** 63n, 2n ** 62n)).toBe(2n ** 63n + 2n ** 62n)
  })
})
