/**
 * @module hub/commands
 * The commands the hub takes over (DESIGN.md's fan-out table) and how each combines its
 * members' answers:
 *
 * | command                     | hub behaviour                                                     |
 * | --------------------------- | ----------------------------------------------------------------- |
 * | pin/add                     | placement, durable intent, answer after `min` acknowledgements    |
 * | pin/rm                      | tombstone, every allocated member, "not pinned" counts as done    |
 * | pin/update                  | the members holding the old pin                                   |
 * | pin/ls                      | the hub's store; indirect pins by walking DAGs on their holders   |
 * | add                         | body teed to the placed members; one NDJSON answer; CIDs compared |
 * | add only-hash=true          | CIDs computed by the hub itself; no member asked                  |
 * | repo/stat                   | every store once (also through hubs below), summed exactly        |
 * | repo/gc                     | every member, NDJSON streams merged                               |
 * | block/put, dag/put pin=true | stored on one member, then pinned by placement                    |
 * | cat, get, ls, refs, block/get, block/stat, dag/get, dag/export, dag/stat, resolve, files/stat | a member holding the CID first |
 * | id, version                 | answered by the hub itself                                        |
 * | everything else             | streamed to the topology's passthrough member                     |
 *
 * Each request works on a copy of the components taken when it starts, so a topology
 * reload during the request leaves it with the members and placement it began with.
 */
import { pushable } from 'it-pushable'
import { hasRequestBody, type Command, type CommandContext, type RawContext } from '../kubo/transport.js'
import { sendChannel, sendValue } from '../kubo/respond.js'
import type { CommandSpec } from '../kubo/options.js'
import { ADD_OPTIONS, PIN_ADD_OPTIONS, PIN_LS_OPTIONS, VERSION_OPTIONS, versionInfo } from '../kubo/specs.js'
import type { MemberClient } from '../members/client.js'
import { rank } from '../placement/placement.js'
import { CommandError, PinNotFoundError, SERVER_HEADER, errorMessage, isLoopRefusal } from '../errors.js'
import type { PinRecord } from '../state/store.js'
import type { HubComponents } from './components.js'
import { handleAdd } from './add.js'
import { parseIpfsPath } from './cid.js'
import { clusterOptions } from './cluster-options.js'
import { forwardTo, forwardToFirst, forwardableRequestHeaders } from './forward.js'
import { LeafIds, distinctMembers, repoStat } from './repo-stat.js'
import type { RequestScope } from '../request-context.js'

const pathArgs = (name: string, required = true, stdin = false): CommandSpec['args'] => [{ name, required, variadic: true, stdin }]

export function hubCommands (live: HubComponents): Command[] {
  const cmd = (spec: CommandSpec, handler: (ctx: CommandContext, h: HubComponents) => Promise<Response>): Command =>
    ({ spec, handler: async (ctx) => await handler(ctx, { ...live }) })
  const readRoute = (path: string, options: CommandSpec['options'] = [], stdin = false): Command =>
    cmd({ path, args: pathArgs('ipfs-path', true, stdin), options }, async (ctx, h) => await routeRead(ctx, h))
  const version = versionInfo(`${SERVER_HEADER} node/${process.version}`)
  // Which peer ID each member stands for, learnt once; the member set itself is read per
  // request, since a reload may change it.
  const leafIds = new LeafIds(() => live.topology.hub.id)

  return [
    cmd({ path: 'version', options: VERSION_OPTIONS }, async (ctx) => await sendValue(ctx.c, version)),

    cmd({ path: 'id', args: [{ name: 'peerid', required: false }], options: [{ name: 'format', aliases: ['f'], type: 'string' }, { name: 'peerid-base', type: 'string' }] },
      async (ctx, h) => {
        if (ctx.args.length > 0 && ctx.args[0] !== h.identity.id) return await passthrough(ctx, h)
        return await sendValue(ctx.c, { ID: h.identity.id, PublicKey: h.identity.publicKey, Addresses: [], AgentVersion: SERVER_HEADER, Protocols: [] })
      }),

    cmd({
      path: 'pin/add',
      args: pathArgs('ipfs-path', true, true),
      options: PIN_ADD_OPTIONS,
    }, async (ctx, h) => {
      const cluster = clusterOptions(ctx.url.searchParams)
      const name = ctx.options.name as string | undefined
      if (name !== undefined && Buffer.byteLength(name) > 255) throw new CommandError(`pin name is ${Buffer.byteLength(name)} bytes (max 255 bytes)`)
      const acked: string[][] = []
      const recursive = ctx.options.recursive !== false
      // Every argument is resolved before anything is pinned: a bad one changes nothing.
      const pinned = await resolveAll(ctx, h)
      for (const cid of pinned) {
        acked.push(await h.pins.pin(cid, {
          mode: recursive ? 'recursive' : 'direct', name, metadata: cluster.metadata, replication: cluster.replication, signal: ctx.signal, scope: ctx.scope,
        }))
      }
      if (ctx.options.progress !== true) return await sendValue(ctx.c, { Pins: pinned })
      // Kubo counts the blocks and bytes it walked while pinning recursively and, when that
      // is not zero, says so in one line before the Pins; a holder's dag/stat counts the same.
      const walked = recursive ? await dagTotals(h, pinned, acked, ctx.signal, ctx.scope) : undefined
      return await sendChannel(ctx.c, (async function * () {
        if (walked !== undefined && walked.blocks > 0) yield { Progress: walked.blocks, Bytes: walked.bytes }
        yield { Pins: pinned }
      })())
    }),

    cmd({ path: 'pin/rm', args: pathArgs('ipfs-path', true, true), options: [{ name: 'recursive', aliases: ['r'], type: 'bool', default: true }] },
      async (ctx, h) => {
        // Kubo removes argument by argument and stops at the first bad one; here every
        // argument is resolved and checked first, so a request that fails removes nothing.
        const removed = await resolveAll(ctx, h)
        await h.pins.unpinAll(removed, ctx.options.recursive !== false, ctx.signal, ctx.scope)
        return await sendValue(ctx.c, { Pins: removed })
      }),

    cmd({ path: 'pin/update', args: [{ name: 'from-path', required: true }, { name: 'to-path', required: true }], options: [{ name: 'unpin', type: 'bool', default: true }] },
      async (ctx, h) => {
        const from = await resolvePath(ctx, h, ctx.args[0])
        const to = await resolvePath(ctx, h, ctx.args[1])
        await h.pins.update(from, to, ctx.options.unpin !== false, ctx.signal, ctx.scope)
        return await sendValue(ctx.c, { Pins: [from, to] })
      }),

    cmd({
      path: 'pin/ls',
      args: [{ name: 'ipfs-path', variadic: true }],
      options: PIN_LS_OPTIONS,
    }, async (ctx, h) => await pinLs(ctx, h)),

    cmd({ path: 'repo/stat', options: [{ name: 'size-only', aliases: ['s'], type: 'bool' }, { name: 'human', aliases: ['H'], type: 'bool' }] },
      async (ctx, h) => await repoStat(ctx, h, distinctMembers(h.members.values()), leafIds)),

    cmd({ path: 'repo/gc', options: [{ name: 'stream-errors', type: 'bool' }, { name: 'quiet', aliases: ['q'], type: 'bool' }, { name: 'silent', type: 'bool' }] },
      async (ctx, h) => await repoGc(ctx, h)),

    cmd({
      path: 'add',
      args: [{ name: 'path', required: true, file: true }],
      options: ADD_OPTIONS,
    }, async (ctx, h) => await handleAdd(ctx, h)),

    cmd({ path: 'block/put', args: [{ name: 'data', required: true, file: true }], options: [{ name: 'pin', type: 'bool' }] },
      async (ctx, h) => await putAndPin(ctx, h, 'block/put', 'Key')),
    cmd({ path: 'dag/put', args: [{ name: 'object data', required: true, file: true }], options: [{ name: 'pin', type: 'bool' }] },
      async (ctx, h) => await putAndPin(ctx, h, 'dag/put', 'Cid')),

    readRoute('cat', [{ name: 'offset', aliases: ['o'], type: 'int' }, { name: 'length', aliases: ['l'], type: 'int' }, { name: 'progress', type: 'bool' }], true),
    readRoute('get'),
    readRoute('ls'),
    readRoute('refs'),
    readRoute('block/get'),
    readRoute('block/stat'),
    readRoute('dag/get'),
    readRoute('dag/export'),
    readRoute('dag/stat'),
    readRoute('resolve'),
    readRoute('files/stat'),
    // A subcommand of a routed read: registered so that `local` is not taken for refs' argument.
    cmd({ path: 'refs/local' }, async (ctx, h) => await passthrough(ctx, h)),
  ]
}

/**
 * Forward any other command to the passthrough member, streaming both ways; `label` names
 * it in the member metrics (an unknown command's path must not).
 */
export async function passthroughRaw (raw: RawContext, h: HubComponents, label = 'passthrough'): Promise<Response> {
  const member = h.members.get(h.topology.passthrough)!
  return await forwardTo(raw.c, member, {
    command: raw.path,
    query: raw.url.searchParams,
    // A request without a body is forwarded without one (not as an empty chunked upload).
    body: raw.hasBody ? raw.body() : undefined,
    contentType: raw.c.req.header('content-type'),
    headers: forwardableRequestHeaders(raw.c),
    scope: raw.scope,
    signal: raw.signal,
    metricLabel: label,
  })
}

async function passthrough (ctx: CommandContext, h: HubComponents): Promise<Response> {
  return await passthroughRaw({ c: ctx.c, path: ctx.command, url: ctx.url, signal: ctx.signal, scope: ctx.scope, hasBody: hasRequestBody(ctx.c), body: ctx.body }, h, ctx.command)
}

/** The CIDs of every argument, in order; the first that cannot be resolved is the error. */
async function resolveAll (ctx: CommandContext, h: HubComponents): Promise<string[]> {
  const cids: string[] = []
  for (const arg of ctx.args) cids.push(await resolvePath(ctx, h, arg))
  return cids
}

/** The CID a path names; sub-paths are resolved by a member that holds the root. */
async function resolvePath (ctx: CommandContext, h: HubComponents, arg: string): Promise<string> {
  const p = parseIpfsPath(arg)
  if (p.rest === '') return p.root
  const members = await membersFor(h, p.root)
  let last: unknown
  for (const m of members) {
    try {
      const r = await m.json<{ Path?: string }>('resolve', { args: [`/ipfs/${p.root}/${p.rest}`], scope: ctx.scope, signal: ctx.signal })
      if (typeof r.Path === 'string') return parseIpfsPath(r.Path).root
    } catch (err) {
      if (isLoopRefusal(err)) throw err
      last = err
    }
  }
  throw new CommandError(`could not resolve ${arg}: ${last === undefined ? 'no member available' : errorMessage(last)}`)
}

/**
 * Unique blocks and bytes of the pinned DAGs, as one of each pin's holders counts them
 * (`dag/stat`, offline); undefined when no holder could say.
 */
async function dagTotals (h: HubComponents, cids: string[], holders: string[][], signal: AbortSignal, scope: RequestScope): Promise<{ blocks: number, bytes: number } | undefined> {
  let blocks = 0
  let bytes = 0
  for (const [i, cid] of cids.entries()) {
    const member = holders[i].map(n => h.members.get(n)).find(m => m !== undefined)
    if (member === undefined) return undefined
    try {
      const stat = await member.json<{ UniqueBlocks?: number, TotalSize?: number }>('dag/stat', { args: [cid], query: { progress: false, offline: true }, scope, signal, timeoutMs: 10_000 })
      blocks += stat.UniqueBlocks ?? 0
      bytes += stat.TotalSize ?? 0
    } catch {
      return undefined
    }
  }
  return { blocks, bytes }
}

/** Members of the topology that are up and hold the CID. */
async function upHolders (h: HubComponents, cid: string): Promise<string[]> {
  return (await h.store.holders(cid)).filter(n => h.monitor.isUp(n) && h.members.has(n))
}

/** Up members, holders of the CID first, the others in rendezvous order. */
async function membersFor (h: HubComponents, cid: string): Promise<MemberClient[]> {
  const holders = await upHolders(h, cid)
  const others = rank(cid, h.topology.members.filter(m => !holders.includes(m.name) && h.monitor.isUp(m.name)))
  return [...holders, ...others].map(n => h.members.get(n)!)
}

async function routeRead (ctx: CommandContext, h: HubComponents): Promise<Response> {
  let root: string
  try {
    root = parseIpfsPath(ctx.args[0]).root
  } catch {
    return await passthrough(ctx, h) // not a CID path (IPNS, …): let the passthrough member answer
  }
  const query = new URLSearchParams(ctx.url.searchParams)
  query.delete('arg')
  for (const a of ctx.args) query.append('arg', a)
  return await forwardToFirst(ctx.c, await membersFor(h, root), { command: ctx.command, query, headers: forwardableRequestHeaders(ctx.c), scope: ctx.scope, signal: ctx.signal })
}

async function pinLs (ctx: CommandContext, h: HubComponents): Promise<Response> {
  const type = ctx.options.type as string
  if (!['all', 'recursive', 'direct', 'indirect'].includes(type)) {
    throw new CommandError(`invalid type '${type}', must be one of {direct, indirect, recursive, all}`)
  }
  const nameFilter = ctx.options.name as string | undefined
  const withNames = ctx.options.names === true || nameFilter !== undefined
  const matches = (p: PinRecord): boolean => (type === 'all' || type === p.mode) && (nameFilter === undefined || p.name.includes(nameFilter))

  let entries: AsyncIterable<{ cid: string, type: string, name: string }>
  if (ctx.args.length > 0) {
    const found: Array<{ cid: string, type: string, name: string }> = []
    const indirect = indirectRoots(ctx, h)
    try {
      for (const arg of ctx.args) {
        const cid = await resolvePath(ctx, h, arg)
        const rec = await h.store.get(cid)
        if (rec !== undefined && rec.state === 'pinned' && matches(rec)) {
          found.push({ cid, type: rec.mode, name: rec.name })
          continue
        }
        // Not pinned itself: Kubo still answers for a block inside a recursive pin.
        const via = (type === 'all' || type === 'indirect') && nameFilter === undefined ? await indirect.rootOf(cid) : undefined
        if (via === undefined) throw new PinNotFoundError(arg)
        found.push({ cid, type: `indirect through ${via}`, name: '' })
      }
    } finally {
      await indirect.close()
    }
    entries = (async function * () { yield * found })()
  } else {
    entries = listPins(ctx, h, type, nameFilter)
  }

  if (ctx.options.stream === true) {
    return await sendChannel(ctx.c, (async function * () {
      for await (const e of entries) {
        yield withNames && e.name !== '' ? { Cid: e.cid, Name: e.name, Type: e.type } : { Cid: e.cid, Type: e.type }
      }
    })())
  }
  // Kubo answers a Go map here, which its JSON encoder writes in key order.
  const found = new Map<string, { Type: string, Name: string }>()
  for await (const e of entries) found.set(e.cid, { Type: e.type, Name: withNames ? e.name : '' })
  if (found.size === 0) return await sendValue(ctx.c, {})
  const keys: Record<string, { Type: string, Name: string }> = {}
  for (const cid of [...found.keys()].sort()) keys[cid] = found.get(cid)!
  return await sendValue(ctx.c, { Keys: keys })
}

/**
 * Kubo's listing order: recursive pins, then direct ones, then (for `all` and `indirect`)
 * every block below a recursive pin that is not pinned itself. The store knows the first
 * two; the indirect ones come from walking each recursive pin's DAG on a member holding it.
 */
async function * listPins (ctx: CommandContext, h: HubComponents, type: string, nameFilter: string | undefined): AsyncGenerator<{ cid: string, type: string, name: string }> {
  const pinned = new Set<string>()
  const roots: string[] = []
  for (const mode of ['recursive', 'direct'] as const) {
    if (type !== 'all' && type !== 'indirect' && type !== mode) continue
    for await (const p of h.store.list({ mode, state: 'pinned' })) {
      pinned.add(p.cid)
      if (mode === 'recursive') roots.push(p.cid)
      if (type !== 'indirect' && (nameFilter === undefined || p.name.includes(nameFilter))) yield { cid: p.cid, type: p.mode, name: p.name }
    }
  }
  // Indirect pins have no name, so a name filter leaves none.
  if ((type !== 'all' && type !== 'indirect') || (nameFilter !== undefined && nameFilter !== '')) return
  const seen = new Set<string>()
  for (const root of roots) {
    for await (const cid of dagRefs(ctx, h, root)) {
      if (seen.has(cid) || pinned.has(cid)) continue
      seen.add(cid)
      yield { cid, type: 'indirect', name: '' }
    }
  }
}

/**
 * The recursive pin whose DAG holds a CID, if any (Kubo's "indirect through <root>"), for
 * every argument of one request: a single walk over the recursive pins' DAGs, in store
 * order, taken only as far as a question needs and remembered for the next question.
 */
function indirectRoots (ctx: CommandContext, h: HubComponents): { rootOf: (cid: string) => Promise<string | undefined>, close: () => Promise<void> } {
  const firstRoot = new Map<string, string>()
  const walk = (async function * () {
    for await (const p of h.store.list({ mode: 'recursive', state: 'pinned' })) {
      for await (const ref of dagRefs(ctx, h, p.cid)) yield { ref, root: p.cid }
    }
  })()
  let done = false
  return {
    rootOf: async (cid) => {
      const known = firstRoot.get(cid)
      if (known !== undefined || done) return known
      for (let next = await walk.next(); next.done !== true; next = await walk.next()) {
        const { ref, root } = next.value
        if (!firstRoot.has(ref)) firstRoot.set(ref, root)
        if (ref === cid) return root
      }
      done = true
      return undefined
    },
    close: async () => { await walk.return(undefined) },
  }
}

/**
 * Every block below `root` once (`refs -r -u` on a member that holds the pin, the next one
 * on failure). `offline` keeps an online daemon from searching the network for a block it
 * lacks; a pin none of whose holders is up contributes nothing (logged).
 */
async function * dagRefs (ctx: CommandContext, h: HubComponents, root: string): AsyncGenerator<string> {
  const holders = await upHolders(h, root)
  let last: unknown
  for (const name of holders) {
    const m = h.members.get(name)!
    let yielded = false
    try {
      for await (const r of m.ndjson<{ Ref?: string, Err?: string }>('refs', { args: [root], query: { recursive: true, unique: true, offline: true }, scope: ctx.scope, signal: ctx.signal })) {
        if (r.Err !== undefined && r.Err !== '') throw new CommandError(r.Err)
        if (typeof r.Ref === 'string') {
          yielded = true
          yield r.Ref
        }
      }
      return
    } catch (err) {
      if (yielded || isLoopRefusal(err)) throw err
      last = err
    }
  }
  h.log.warn({ cid: root, holders, err: last === undefined ? 'no holder is up' : errorMessage(last) }, 'indirect pins of this pin left out of pin/ls')
}

async function repoGc (ctx: CommandContext, h: HubComponents): Promise<Response> {
  const out = pushable<unknown>({ objectMode: true })
  const errors: string[] = []
  let loop: Error | undefined
  const members = [...h.members.values()].filter(m => h.monitor.isUp(m.name))
  void Promise.all(members.map(async m => {
    try {
      for await (const v of m.ndjson('repo/gc', { query: ctx.url.searchParams, scope: ctx.scope, signal: ctx.signal })) out.push(v)
    } catch (err) {
      if (isLoopRefusal(err)) loop = err as Error
      errors.push(`${m.name}: ${errorMessage(err)}`)
    }
  })).then(() => {
    out.end(loop ?? (errors.length > 0 ? new CommandError(`repo/gc failed on ${errors.length} member(s): ${errors.join('; ')}`) : undefined))
  })
  return await sendChannel(ctx.c, out)
}

/**
 * block/put and dag/put: without `pin=true` a plain passthrough. With it, the data is
 * stored on one member (unpinned there), then each resulting CID is pinned by placement,
 * which copies the blocks to the chosen members.
 */
async function putAndPin (ctx: CommandContext, h: HubComponents, command: string, key: 'Key' | 'Cid'): Promise<Response> {
  if (ctx.options.pin !== true) return await passthrough(ctx, h)
  const decision = h.placement.place({ key: crypto.randomUUID() })
  const first = h.members.get(decision.ranked[0] ?? h.topology.passthrough)!
  const query = new URLSearchParams(ctx.url.searchParams)
  query.set('pin', 'false')
  const values: Array<Record<string, unknown>> = []
  for await (const v of first.ndjson<Record<string, unknown>>(command, { query, body: ctx.body(), contentType: ctx.contentType, scope: ctx.scope, signal: ctx.signal })) values.push(v)
  for (const v of values) {
    const field = v[key]
    const cid = typeof field === 'string' ? field : (field as { '/'?: string } | undefined)?.['/']
    if (cid !== undefined) await h.pins.pin(cid, { mode: 'recursive', signal: ctx.signal, scope: ctx.scope })
  }
  return await sendChannel(ctx.c, (async function * () { yield * values })())
}
