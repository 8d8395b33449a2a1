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
 */
import type { CommandContext } from '../kubo/transport.js'
import { sendValue } from '../kubo/respond.js'
import type { MemberClient } from '../members/client.js'
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
      return [{ Id: identify ? await ids.of(m, ctx.signal, ctx.scope) : `member:${m.name}`, RepoSize: stat.RepoSize, StorageMax: stat.StorageMax, NumObjects: stat.NumObjects }]
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
