import { describe, it, expect } from 'vitest'
import { formatDuration, parseDuration } from '../../src/topology/duration.js'

describe('parseDuration', () => {
  it.each([
    ['500ms', 500], ['30s', 30_000], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004], ['1.5s', 1500], ['0.1s', 100], ['100us', 0.1], ['2d', 172_800_000],
    ['0s', 0], ['250', 250], [' 5s ', 5000],
  ])('%s -> %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it('takes numbers as milliseconds', () => {
    expect(parseDuration(1500)).toBe(1500)
    expect(parseDuration(0)).toBe(0)
  })

  it.each(['', 'abc', '5 s', '1x', '1m30', 's', '-5s', '1.s', '30S'])('refuses %j', input => {
    expect(() => parseDuration(input)).toThrow(/expected a duration/)
  })

  it('says which part it could not read', () => {
    expect(() => parseDuration('1m30')).toThrow('expected a duration like 500ms, 30s, 2m, 1h or 1m30s, got "1m30" (cannot read "30")')
  })

  it('refuses negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow('expected a duration like 30s, got -1')
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(/expected a duration/)
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0s'], [500, '500ms'], [1000, '1s'], [90_000, '1m30s'], [3_600_000, '1h'], [3_723_004, '1h2m3s4ms'], [0.5, '0.5ms'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_000, 3_661_001, 86_400_000]) expect(parseDuration(formatDuration(ms))).toBe(ms)
  })
})
