/**
 * @module topology/load
 * YAML text -> validated, normalised `Topology`, or a `TopologyError` listing every
 * problem as `file:line:col path: message`. The YAML is parsed once into a document
 * that keeps source ranges; `${VAR}` interpolation, the zod schema and the cross-field
 * checks all report problems by path, and each path is mapped back to the nearest node
 * that exists in the document, so a missing key points at the mapping that lacks it.
 */
import { readFile } from 'node:fs/promises'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import type { z } from 'zod'
import { TopologyError } from '../errors.js'
import { crossCheck, type Path, type PathIssue } from './checks.js'
import { knownKeys, normaliseTopology, TopologyFileSchema, type Topology } from './schema.js'

export type Env = Record<string, string | undefined>

/** Read and validate a topology file. An unreadable file is a `TopologyError` too. */
export async function loadTopology (file: string, env: Env = process.env): Promise<Topology> {
  return parseTopology(await readTopologyText(file), file, env)
}

/** A topology file's text, or a `TopologyError` naming the file when it cannot be read. */
export async function readTopologyText (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new TopologyError([`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`])
  }
}

/**
 * Validate topology YAML. `file` only names the source in problem lines.
 * @throws TopologyError with every problem found, in document order.
 */
export function parseTopology (text: string, file: string, env: Env = process.env): Topology {
  const found = examineText(text, env)
  if (found.topology === undefined) throw new TopologyError(formatProblems(text, file, found.problems))
  return found.topology
}

/** One problem of a topology text, at a character offset of that text. */
export interface TextProblem {
  offset: number
  /** `members[2].url`, or '' for the document as a whole. */
  path: string
  message: string
}

/**
 * What the daemon would make of `text`: the topology, or every problem with positions left
 * as offsets, for callers that map them elsewhere (edits). Never throws for bad input.
 */
export function examineText (text: string, env: Env = process.env): { topology: Topology, problems: [] } | { topology?: undefined, problems: TextProblem[] } {
  const doc = parseDocument(text, { prettyErrors: false, merge: true, uniqueKeys: true })
  const syntax = [...doc.errors, ...doc.warnings].map(e => ({ offset: e.pos[0], path: '', message: e.message }))
  if (syntax.length > 0) return { problems: syntax }
  if (doc.contents === null) return { problems: [{ offset: 0, path: '', message: 'the file is empty; a topology needs version, hub and members' }] }

  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 1000 })
  } catch (err) {
    return { problems: [{ offset: 0, path: '', message: err instanceof Error ? err.message : String(err) }] }
  }
  // Top-level `x-...` keys are free space for YAML anchors (`x-defaults: &d {...}`).
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    raw = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')))
  }

  const envIssues: PathIssue[] = []
  raw = interpolateTree(raw, [], env, envIssues)
  const parsed = TopologyFileSchema.safeParse(raw, { error: fallbackMessage })
  const issues: KeyedIssue[] = [...envIssues, ...(parsed.success ? [] : zodIssues(parsed.error.issues, doc)), ...crossCheck(raw)]
  // A value whose variable is missing would also fail its own check; say only the cause.
  const envPaths = new Set(envIssues.map(i => formatPath(i.path)))
  const problems = issues
    .filter(i => envIssues.includes(i) || !envPaths.has(formatPath(i.path)))
    .map(i => ({ offset: i.keyOffset ?? offsetOf(doc, i.path), path: formatPath(i.path), message: i.message }))
  if (problems.length > 0 || !parsed.success) return { problems }
  return { topology: normaliseTopology(parsed.data), problems: [] }
}

/** Problem lines `file:line:col path: message` for offsets into `text`, in document order, each once. */
export function formatProblems (text: string, file: string, problems: readonly TextProblem[]): string[] {
  const lines = new LineCounter()
  let start = 0
  for (;;) {
    lines.addNewLine(start)
    const nl = text.indexOf('\n', start)
    if (nl < 0) break
    start = nl + 1
  }
  const formatted = problems.map((p, i) => {
    const { line, col } = lines.linePos(p.offset)
    return { offset: p.offset, i, line: `${file}:${line}:${col}${p.path === '' ? '' : ` ${p.path}`}: ${p.message}` }
  })
  return [...new Set(formatted.sort((a, b) => a.offset - b.offset || a.i - b.i).map(p => p.line))]
}

// ---------------------------------------------------------------------------------------
// ${VAR} interpolation
// ---------------------------------------------------------------------------------------

/**
 * Expand `${NAME}` (and `${NAME:-default}`, used when NAME is unset or empty) in one
 * string; `$${` stands for a literal `${`. Returns the problems instead of throwing.
 */
export function interpolate (s: string, env: Env): { value: string, problems: string[] } {
  let out = ''
  const problems: string[] = []
  let i = 0
  while (i < s.length) {
    if (s.startsWith('$${', i)) { out += '${'; i += 3; continue }
    if (!s.startsWith('${', i)) { out += s[i++]; continue }
    const end = s.indexOf('}', i + 2)
    if (end < 0) { problems.push('unterminated "${" (write "$${" for a literal "${")'); break }
    const expr = s.slice(i + 2, end)
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(expr)
    if (m === null) {
      problems.push(`"\${${expr}}" is not a variable reference: expected \${NAME} or \${NAME:-default}`)
    } else {
      const value = env[m[1]]
      if (m[2] !== undefined) out += value === undefined || value === '' ? m[2] : value
      else if (value === undefined) problems.push(`environment variable ${m[1]} is not set`)
      else out += value
    }
    i = end + 1
  }
  return { value: problems.length > 0 ? s : out, problems }
}

/** Interpolate every string value (not keys) of the parsed document. */
function interpolateTree (v: unknown, path: Path, env: Env, issues: PathIssue[]): unknown {
  if (typeof v === 'string') {
    const { value, problems } = interpolate(v, env)
    for (const message of problems) issues.push({ path, message })
    return value
  }
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(x, [...path, i], env, issues))
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateTree(x, [...path, k], env, issues)]))
  }
  return v
}

// ---------------------------------------------------------------------------------------
// zod issues -> path issues
// ---------------------------------------------------------------------------------------

type KeyedIssue = PathIssue & { keyOffset?: number }

const KNOWN_KEYS = knownKeys()

function fallbackMessage (iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') return iss.input === undefined ? 'required' : `expected ${iss.expected}, got ${typeof iss.input}`
  return undefined
}

function zodIssues (issues: readonly z.core.$ZodIssue[], doc: Document): KeyedIssue[] {
  const out: KeyedIssue[] = []
  for (const iss of issues) {
    const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol')
    if (iss.code !== 'unrecognized_keys') {
      // Map-key problems (a bad header name) are flagged by the schema to point at the key.
      const atKey = iss.code === 'custom' && iss.params?.at === 'key' && path.length > 0
      out.push({ path, message: iss.message, keyOffset: atKey ? keyOffsetOf(doc, path.slice(0, -1), String(path[path.length - 1])) : undefined })
      continue
    }
    const allowed = KNOWN_KEYS.get(path.filter(p => typeof p === 'string').join('.')) ?? []
    for (const key of iss.keys) {
      const hint = suggest(key, allowed)
      out.push({
        path: [...path, key],
        message: `unknown key "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`,
        keyOffset: keyOffsetOf(doc, path, key),
      })
    }
  }
  return out
}

/** The allowed key a typo most likely meant: same letters modulo case and `-`/`_`, or at most 2 edits away. */
function suggest (key: string, allowed: string[]): string | undefined {
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  const same = allowed.find(k => squash(k) === squash(key))
  if (same !== undefined) return same
  let best: { k: string, d: number } | undefined
  for (const k of allowed) {
    const d = editDistance(key.toLowerCase(), k)
    if (d <= 2 && (best === undefined || d < best.d)) best = { k, d }
  }
  return best?.k
}

function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]
}

// ---------------------------------------------------------------------------------------
// Paths -> positions
// ---------------------------------------------------------------------------------------

/** `members[2].urls[0]`; keys that are not plain words are quoted: `tags["a.b/c"]`. */
export function formatPath (path: Path): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

type Pair = { key: unknown, value: unknown }

/** The pair for `key` in a mapping, looking through `<<` merge keys too. */
function pairOf (doc: Document, map: unknown, key: string, depth = 0): Pair | undefined {
  if (isAlias(map)) map = map.resolve(doc)
  if (!isMap(map) || depth > 10) return undefined
  const items = map.items as Pair[]
  const keyText = (p: Pair): string | undefined => (isScalar(p.key) && typeof p.key.value !== 'symbol' ? String(p.key.value) : undefined)
  // With `merge: true` a `<<` key holds a symbol, not the string.
  const isMerge = (p: Pair): boolean => isScalar(p.key) && (typeof p.key.value === 'symbol' || p.key.value === '<<')
  const own = items.find(p => keyText(p) === key)
  if (own !== undefined) return own
  for (const p of items.filter(isMerge)) {
    const sources = isSeq(p.value) ? p.value.items : [p.value]
    for (const s of sources) {
      const found = pairOf(doc, s, key, depth + 1)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** Start offset of the node at `path`, else of its nearest existing ancestor. */
function offsetOf (doc: Document, path: Path): number {
  let node: unknown = doc.contents
  let offset = rangeStart(node) ?? 0
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc)
    let next: unknown
    if (isMap(node)) {
      const pair = pairOf(doc, node, String(seg))
      if (pair === undefined) break
      // `key:` with nothing after it: point at the key, not at the empty space after it.
      if (pair.value === null || (isScalar(pair.value) && pair.value.value === null && pair.value.source === '')) {
        return rangeStart(pair.key) ?? offset
      }
      next = pair.value
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg]
      if (next === undefined) break
    } else {
      break
    }
    node = next
    offset = rangeStart(node) ?? offset
  }
  return offset
}

function keyOffsetOf (doc: Document, parent: Path, key: string): number {
  const pair = pairOf(doc, nodeAt(doc, parent), key)
  return rangeStart(pair?.key) ?? offsetOf(doc, parent)
}

function nodeAt (doc: Document, path: Path): unknown {
  let node: unknown = doc.contents
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) node = pairOf(doc, node, String(seg))?.value
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg]
    else return undefined
  }
  return isAlias(node) ? node.resolve(doc) : node
}

function rangeStart (node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return Array.isArray(range) ? range[0] : undefined
}
