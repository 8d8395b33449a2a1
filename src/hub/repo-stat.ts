/**
 * @module hub/repo-stat
 * `repo/stat` over the members, and through them over the hubs below. Each store (leaf)
 * is counted once: members sharing an endpoint are asked once, and a hub below reports
 * the leaves it summed (`SuperclusterLeaves`, only to another hub: a client gets Kubo's
 * fields and nothing else), so a store that this hub reaches directly and through a hub
 * below, or through two hubs, is added once, at any depth.
 *
 * A leaf is known by its peer ID (the member's `id`, asked once and kept), or, for a
 * cluster proxy (whose `id` names whichever peer answered) and when `id` fails, by its
 * URLs; a loopback URL only means something on its own machine, so it is qualified by
 * this hub's id.
 *
 * A cluster proxy answers repo/stat with RepoSize and StorageMax only (summed over its
 * peers), so for a member whose answer lacks NumObjects the hub counts the objects
 * itself, unless `size-only` (where Kubo skips counting too): each of the member's
 * endpoints is a peer's proxy, which forwards `refs/local` to that peer's own daemon, and
 * `refs/local` lists exactly the blockstore keys Kubo's NumObjects counts. A daemon
 * behind two endpoints (its `id`, also forwarded) is counted once. Peers whose proxy is
 * not among the member's URLs cannot be reached this way and are not counted; a peer
 * that fails is skipped, as the proxy skips it for RepoSize.
 */
import type { CommandContext } from '../kubo/transport.js'
import { sendValue } from '../kubo/respond.js'
import { readText, type MemberClient } from '../members/client.js'
import { addU64, parseLeaves, parseRepoStat, LEAVES_FIELD, type RepoLeaf } from '../members/repo-stat.js'
import { errorMessage, isLoopRefusal } from '../errors.js'
import type { HubComponents } from './components.js'
import { logFields, type RequestScope } from '../request-context.js'

/** How long a member's peer ID is trusted before it is asked again (a member may be re-initialised). */
const ID_TTL_MS = 10 * 60_000
/** How long a member whose `id` failed goes by its URL before it is asked again. */
const NO_ID_TTL_MS = 60_000
const ID_TIMEOUT_MS = 2_000
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'])

/** Peer IDs of members, asked lazily and kept for a while. */
export class LeafIds {
  private readonly known = new Map<string, { id: string, until: number }>()
  private readonly hubId: () => string

  constructor (hubId: () => string) {
    this.hubId = hubId
  }

  async of (m: MemberClient, signal: AbortSignal, scope: RequestScope): Promise<string> {
    if (m.kind === 'cluster-proxy' || m.kind === 'hub' || m.urls.length > 1) return this.byUrl(m)
    const cached = this.known.get(m.name)
    if (cached !== undefined && Date.now() < cached.until) return cached.id
    let id: string | undefined
    try {
      const { ID } = await m.json<{ ID?: unknown }>('id', { scope, signal, timeoutMs: ID_TIMEOUT_MS })
      if (typeof ID === 'string' && ID !== '') id = ID
    } catch {
      signal.throwIfAborted()
    }
    const known = id !== undefined ? { id, until: Date.now() + ID_TTL_MS } : { id: this.byUrl(m), until: Date.now() + NO_ID_TTL_MS }
    this.known.set(m.name, known)
    return known.id
  }

  /**
   * The peer ID of the daemon behind one endpoint of `m` (cluster proxies forward `id` to
   * their peer's daemon), kept like a member's; a failure is thrown, not kept.
   */
  async ofEndpoint (m: MemberClient, url: string, signal: AbortSignal, scope: RequestScope): Promise<string> {
    const key = `${m.name} ${url}`
    const cached = this.known.get(key)
    if (cached !== undefined && Date.now() < cached.until) return cached.id
    const { ID } = await m.json<{ ID?: unknown }>('id', { endpoint: url, scope, signal, timeoutMs: ID_TIMEOUT_MS })
    const id = typeof ID === 'string' && ID !== '' ? ID : `url:${url}`
    this.known.set(key, { id, until: Date.now() + ID_TTL_MS })
    return id
  }

  private byUrl (m: MemberClient): string {
    const urls = m.urls.map(u => {
      const url = new URL(u)
      const origin = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`
      return LOOPBACK.has(url.hostname) ? `${this.hubId()}/${origin}` : origin
    })
    return `url:${[...new Set(urls)].sort().join(',')}`
  }
}

/** Members counted once each: a member sharing an endpoint with an earlier one is left out. */
export function distinctMembers (members: Iterable<MemberClient>): MemberClient[] {
  const seen = new Set<string>()
  return [...members].filter(m => {
    if (m.urls.some(u => seen.has(u))) return false
    for (const u of m.urls) seen.add(u)
    return true
  })
}

export async function repoStat (ctx: CommandContext, h: HubComponents, distinct: MemberClient[], ids: LeafIds): Promise<Response> {
  const sizeOnly = ctx.options['size-only'] === true
  // Identities matter only where leaves can repeat: asked by a hub, or with hubs below.
  // Otherwise the members, distinct already, go by name and no `id` is asked.
  const fromHub = ctx.scope.via.length > 0
  const identify = fromHub || distinct.some(m => m.kind === 'hub')
  let failed = 0
  const answers = await Promise.all(distinct.map(async (m): Promise<RepoLeaf[]> => {
    if (!h.monitor.isUp(m.name)) { failed++; return [] }
    try {
      const res = await m.small('repo/stat', { query: { 'size-only': sizeOnly }, scope: ctx.scope, signal: ctx.signal })
      if (res.status >= 400) throw m.answerError(res, res.text)
      const below = parseLeaves(res.text)
      if (below !== undefined) return below
      const stat = parseRepoStat(res.text)
      const numObjects = sizeOnly || res.text.includes('"NumObjects"') ? stat.NumObjects : await countObjects(m, h, ids, ctx.signal, ctx.scope)
      return [{ Id: identify ? await ids.of(m, ctx.signal, ctx.scope) : `member:${m.name}`, RepoSize: stat.RepoSize, StorageMax: stat.StorageMax, NumObjects: numObjects }]
    } catch (err) {
      ctx.signal.throwIfAborted()
      if (isLoopRefusal(err)) throw err
      failed++
      h.log.warn({ ...logFields(ctx.scope), member: m.name, err: errorMessage(err) }, 'repo/stat failed on member')
      return []
    }
  }))
  const leaves = new Map<string, RepoLeaf>()
  for (const leaf of answers.flat()) if (!leaves.has(leaf.Id)) leaves.set(leaf.Id, leaf)
  let repoSize = 0n
  let storageMax = 0n
  let numObjects = 0n
  for (const r of leaves.values()) {
    repoSize = addU64(repoSize, r.RepoSize)
    storageMax = addU64(storageMax, r.StorageMax)
    numObjects = addU64(numObjects, r.NumObjects)
  }
  const value: Record<string, unknown> = {
    RepoSize: repoSize,
    StorageMax: storageMax,
    NumObjects: sizeOnly ? 0n : numObjects,
    RepoPath: sizeOnly ? '' : `supercluster:${h.topology.hub.id}`,
    Version: sizeOnly ? '' : 'fs-repo@18',
  }
  // Another hub asked: it needs the leaves to count each store once. Last, as the parser expects.
  if (fromHub) value[LEAVES_FIELD] = [...leaves.values()]
  return await sendValue(ctx.c, value, { 'X-Supercluster-Members': String(distinct.length), 'X-Supercluster-Members-Failed': String(failed) })
}

/** NumObjects of a member whose repo/stat lacks it: the blocks of each distinct daemon behind its endpoints. */
async function countObjects (m: MemberClient, h: HubComponents, ids: LeafIds, signal: AbortSignal, scope: RequestScope): Promise<bigint> {
  const skip = (url: string, err: unknown): undefined => {
    signal.throwIfAborted()
    h.log.warn({ ...logFields(scope), member: m.name, endpoint: url, err: errorMessage(err) }, 'repo/stat: objects of a peer not counted')
    return undefined
  }
  const daemons = new Map<string, string>()
  await Promise.all(m.urls.map(async url => {
    try {
      const id = await ids.ofEndpoint(m, url, signal, scope)
      if (!daemons.has(id)) daemons.set(id, url)
    } catch (err) {
      skip(url, err)
    }
  }))
  const counts = await Promise.all([...daemons.values()].map(async url => {
    try {
      return await countRefs(m, url, signal, scope)
    } catch (err) {
      return skip(url, err)
    }
  }))
  return counts.reduce<bigint>((sum, n) => sum + (n ?? 0n), 0n)
}

/** The lines of one endpoint's `refs/local`, counted as they stream (one block each). */
async function countRefs (m: MemberClient, url: string, signal: AbortSignal, scope: RequestScope): Promise<bigint> {
  const res = await m.request('refs/local', { endpoint: url, scope, signal })
  if (res.status >= 400) throw m.answerError(res, await readText(res.body, m.name))
  let lines = 0n
  let last = 0x0a
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) lines++
    if (chunk.length > 0) last = chunk[chunk.length - 1]
  }
  if (last !== 0x0a) lines++
  const error = res.trailers['x-stream-error']
  if (error !== undefined && error !== '') throw m.answerError({ status: 500, headers: {} }, error)
  return lines
}
