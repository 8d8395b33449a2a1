/**
 * @module topology/duration
 * Durations in topology files are written the way operators think of them (`500ms`,
 * `30s`, `1m30s`) and used by the code as plain milliseconds. A bare number (or a
 * string of digits, which is what `${VAR}` interpolation yields) is milliseconds.
 */

/** Milliseconds per unit; `us`/`ns` exist so Go-style values copied from Kubo configs parse. */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

const PART = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/y

/**
 * Parse `500ms`, `30s`, `2m`, `1h`, `1m30s`, `1.5s`, `250` (ms) into milliseconds.
 * @throws Error with a message fit to follow `path: ` in a topology problem line.
 */
export function parseDuration (input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`expected a duration like 30s, got ${input}`)
    return input
  }
  const text = input.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  if (text === '') throw new Error('expected a duration like 30s, got an empty string')
  let total = 0
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex
    const m = PART.exec(text)
    if (m === null) {
      PART.lastIndex = 0
      const hint = at === 0 ? '' : ` (cannot read "${text.slice(at)}")`
      throw new Error(`expected a duration like 500ms, 30s, 2m, 1h or 1m30s, got "${input}"${hint}`)
    }
    total += Number(m[1]) * UNIT_MS[m[2]]
  }
  PART.lastIndex = 0
  // Sub-millisecond parts are kept, but float noise such as 0.30000000000000004 is not.
  return Math.round(total * 1e6) / 1e6
}

/** Render milliseconds the way a topology file would write them: 90000 -> `1m30s`. */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms)
  if (ms === 0) return '0s'
  if (ms < 1000 || !Number.isInteger(ms)) return `${ms}ms`
  let rest = ms
  let out = ''
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) { out += `${n}${unit}`; rest -= n * size }
  }
  if (rest > 0) out += `${rest}ms`
  return out
}
