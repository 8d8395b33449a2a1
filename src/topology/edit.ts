/**
 * @module topology/edit
 * Edits of a topology file from the command line (`topology add-member`, `remove-member`,
 * `drain-member`, `set`) that leave every byte outside the change as the operator wrote
 * it: comments, aligned trailing comments, blank lines, quoting, flow or block style
 * (how: `yaml-splice.ts`). Every edit is validated as the daemon would load the result
 * (`examineText`), and a file is only replaced, atomically, when the result is valid.
 */
import { isCollection, isMap, isScalar, parseDocument, Scalar, type Node, type YAMLMap } from 'yaml'
import { TopologyError } from '../errors.js'
import { parseEditPath, type PathSegment } from './edit-path.js'
import { examineText, formatProblems, readTopologyText, type Env } from './load.js'
import { MEMBER_KINDS, type Topology } from './schema.js'
import { FileChangedError, writeFileAtomic } from './write.js'
import { applySplice, EditSession, originalOffset, type Splice } from './yaml-splice.js'

export { parseEditPath, type PathSegment } from './edit-path.js'
export { applySplice, type Splice } from './yaml-splice.js'

/** A member as `add-member` writes it. */
export interface NewMember {
  name: string
  kind?: string
  urls?: string[]
  tags?: Record<string, string>
  weight?: number | string
  listen?: string
  repo?: string
}

/** Parse VALUE as YAML (`2` a number, `true` a boolean, `{a: 1}` a mapping, `eu` a string). */
export function parseValue (value: string): Node {
  const doc = parseDocument(value)
  if (doc.errors.length > 0) throw new Error(`"${value}" is not a YAML value: ${doc.errors[0].message}`)
  return (doc.contents ?? new Scalar(null)) as Node
}

/** `set PATH VALUE`; `value` is YAML text (see `parseValue`). */
export function setValue (text: string, file: string, path: string | PathSegment[], value: string | Node): Splice {
  const session = new EditSession(text, file)
  let segments: PathSegment[]
  let node: Node
  try {
    segments = typeof path === 'string' ? parseEditPath(path) : path
    node = typeof value === 'string' ? parseValue(value) : value
  } catch (err) {
    throw session.fail((err as Error).message)
  }
  return session.setAt(segments, node)
}

/** `drain: true` (or false) on the member called `name`. */
export function setDrain (text: string, file: string, name: string, drain: boolean): Splice {
  const session = new EditSession(text, file)
  const i = session.memberIndex(name)
  return session.setAt([{ key: 'members' }, { index: i }, { key: 'drain' }], new Scalar(drain))
}

/** Remove the member called `name`, with its comments. */
export function removeMember (text: string, file: string, name: string): Splice {
  const session = new EditSession(text, file)
  return session.removeFromSeq(session.members(), session.memberIndex(name))
}

/**
 * Append a member at the end of `members`, written like the members already there: a
 * key another member quotes is quoted, a mapping another member writes in flow style is
 * written in flow style.
 */
export function addMember (text: string, file: string, member: NewMember): Splice {
  const session = new EditSession(text, file)
  const kind = member.kind ?? 'kubo'
  const urls = member.urls ?? []
  if (!(MEMBER_KINDS as readonly string[]).includes(kind)) throw session.fail(`unknown kind "${kind}" (expected one of ${MEMBER_KINDS.join(', ')})`)
  if (kind === 'embedded') {
    if (member.listen === undefined || member.repo === undefined) throw session.fail('kind embedded needs --listen HOST:PORT and --repo DIR (the hub runs that node itself)')
    if (urls.length > 0) throw session.fail('kind embedded takes no --url: its URL is http://<listen>')
  } else {
    if (urls.length === 0) throw session.fail(`kind ${kind} needs --url`)
    if (member.listen !== undefined || member.repo !== undefined) throw session.fail('--listen and --repo are only for kind embedded')
  }
  const members = session.members()
  const entry: Record<string, unknown> = { name: member.name, kind }
  if (urls.length === 1) entry.url = urls[0]
  if (urls.length > 1) entry.urls = urls
  if (member.listen !== undefined) entry.listen = member.listen
  if (member.repo !== undefined) entry.repo = member.repo
  if (member.tags !== undefined && Object.keys(member.tags).length > 0) entry.tags = member.tags
  if (member.weight !== undefined) entry.weight = member.weight
  const node = session.doc.createNode(entry) as YAMLMap<unknown, unknown>
  const last = members.items[members.items.length - 1]
  node.flow = members.flow === true || (isMap(last) && last.flow === true)
  // Mirror the style of the latest member that has the same key.
  for (const pair of node.items) {
    const key = String((pair.key as Scalar).value)
    const like = [...members.items].reverse().map(m => (isMap(m) ? m.get(key, true) : undefined)).find(v => v !== undefined)
    const value = pair.value
    if (isScalar(like) && isScalar(value) && typeof value.value === 'string' && (like.type === Scalar.QUOTE_DOUBLE || like.type === Scalar.QUOTE_SINGLE)) value.type = like.type
    if (isCollection(like) && isCollection(value)) value.flow = like.flow === true
  }
  return session.appendToSeq(members, node)
}

export interface EditOutcome {
  /** False when the file already said so (nothing was written). */
  changed: boolean
  /** The topology as the daemon will load it. */
  topology: Topology
}

/**
 * Read `file`, compute a splice, check the result as the daemon would load it (with
 * `env` for `${VAR}`), and replace the file atomically.
 * @throws TopologyError with problem lines (`file:line:col path: message`, positions in
 *   the file as it is on disk) when the file or the edit is refused; the file is untouched.
 */
export async function editTopologyFile (file: string, env: Env, edit: (text: string) => Splice): Promise<EditOutcome> {
  const text = await readTopologyText(file)
  const splice = edit(text)
  const next = applySplice(text, splice)
  const found = examineText(next, env)
  if (found.topology === undefined) {
    const problems = found.problems.map(p => ({ ...p, offset: originalOffset(splice, p.offset) }))
    throw new TopologyError([...formatProblems(text, file, problems), `${file}: not changed: the edit would make it invalid`])
  }
  if (next === text) return { changed: false, topology: found.topology }
  try {
    await writeFileAtomic(file, next, { expect: text })
  } catch (err) {
    if (err instanceof FileChangedError) throw new TopologyError([err.message])
    throw err
  }
  return { changed: true, topology: found.topology }
}
