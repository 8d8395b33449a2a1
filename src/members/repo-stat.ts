/**
 * @module members/repo-stat
 * repo/stat numbers are unsigned 64-bit; `JSON.parse` would round anything above 2^53, so
 * the fields are read from the text exactly. Members may send numbers or numeric strings
 * (js-ipfs), and the cluster proxy sends only RepoSize and StorageMax.
 */

export interface RepoStat {
  RepoSize: bigint
  StorageMax: bigint
  NumObjects: bigint
  RepoPath: string
  Version: string
}

export const U64_MAX = (1n << 64n) - 1n

const NUM = Object.fromEntries(['RepoSize', 'StorageMax', 'NumObjects'].map(k => [k, new RegExp(`"${k}"\\s*:\\s*"?(\\d+)"?`)]))
const STR = Object.fromEntries(['RepoPath', 'Version'].map(k => [k, new RegExp(`"${k}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`)]))

export function parseRepoStat (text: string): RepoStat {
  const num = (key: string): bigint => {
    const m = NUM[key].exec(text)
    return m === null ? 0n : BigInt(m[1])
  }
  const str = (key: string): string => {
    const m = STR[key].exec(text)
    return m === null ? '' : JSON.parse(`"${m[1]}"`) as string
  }
  if (!text.includes('"RepoSize"')) throw new Error('repo/stat answer has no RepoSize')
  return { RepoSize: num('RepoSize'), StorageMax: num('StorageMax'), NumObjects: num('NumObjects'), RepoPath: str('RepoPath'), Version: str('Version') }
}

/** Saturating u64 addition: the Go CLI rejects values above 2^64−1. */
export function addU64 (a: bigint, b: bigint): bigint {
  const s = a + b
  return s > U64_MAX ? U64_MAX : s
}
