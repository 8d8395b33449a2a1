/**
 * @module hub/add
 * `add` teed to every placed member at once. The client's multipart body is written to one
 * PassThrough per member and the next chunk is read only when every live member took the
 * last one, so hub memory does not grow with the upload and ingest follows the slowest
 * member. Each member imports the same bytes and answers the same NDJSON events. A
 * result line goes to the client once every live member has produced its line at that
 * position: the majority's Name and Hash win (a tie goes to the better-ranked member), and
 * members that said otherwise are dropped, so one faulty member cannot decide the answer.
 * Progress lines come from one member, held only behind its undecided results (Kubo sends
 * a file's result before the next file's progress). A member that fails mid-way is
 * dropped; fewer than `min` survivors, or any disagreement, is an error (in the trailer
 * once output has begun). The pins are recorded with the members that finished.
 * A cluster proxy's events are first put in Kubo's shape (hub/add-events), so they can be
 * compared with other members' and reach the client as Kubo's; for the same reason an
 * unpinned add given to a cluster proxy takes this path too, with that one member.
 * `only-hash` never reaches a member: the hub computes the CIDs with the embedded node's
 * importer.
 */
import { randomUUID } from 'node:crypto'
import { PassThrough, type Readable } from 'node:stream'
import { pushable } from 'it-pushable'
import { anySignal } from 'any-signal'
import type { CommandContext } from '../kubo/transport.js'
import { sendChannel } from '../kubo/respond.js'
import { multipartEntries, peekParts } from '../kubo/multipart.js'
import type { MemberClient } from '../members/client.js'
import { CommandError, NotEnoughReplicasError, errorMessage, isLoopRefusal, isMemberAnswer } from '../errors.js'
import type { HubComponents } from './components.js'
import { forwardTo } from './forward.js'
import { clusterOptions, HUB_ONLY_OPTIONS } from './cluster-options.js'
import { logFields } from '../request-context.js'
import { KuboAddNames, UploadParts, type AddEvent } from './add-events.js'
import { DISCARD, addEventStream, addOptionsOf, resolveAddOptions, runAdd } from '../embedded/importer.js'
import { UnsupportedError } from '../embedded/errors.js'

interface Lane {
  member: MemberClient
  pass: PassThrough
  alive: boolean
  /** Why the lane was dropped. */
  failure?: unknown
  /**
   * Lines received but not yet passed on: results until every live member has answered
   * that position, and progress lines behind them, so that the client sees a file's
   * result before the next file's progress, as Kubo sends them.
   */
  queue: AddEvent[]
  /** Result lines of this member that matched what the client got. */
  results: number
  /** The member's answer ended (successfully). */
  finished: boolean
  /** A cluster proxy's events, renamed as Kubo names them. */
  names?: KuboAddNames
}

export async function handleAdd (ctx: CommandContext, h: HubComponents): Promise<Response> {
  const { options } = ctx
  const cluster = clusterOptions(ctx.url.searchParams)
  const query = new URLSearchParams()
  for (const [k, v] of ctx.url.searchParams) if (!HUB_ONLY_OPTIONS.has(k) && !k.startsWith('meta-')) query.append(k, v)
  const pinName = (options['pin-name'] as string | undefined) ?? cluster.name
  const storing = options['only-hash'] !== true
  const pinning = storing && options.pin !== false

  // The upload's length (multipart framing included) stands for the content's size: a
  // member whose known free space cannot hold it is not chosen.
  const length = Number(ctx.c.req.header('content-length') ?? '')
  const size = Number.isSafeInteger(length) && length > 0 ? BigInt(length) : undefined
  // Refusals Kubo makes before reading the body, in Kubo's words (a cluster proxy words
  // them its own way), before any member is asked.
  const cidVersion = options['cid-version']
  if (typeof cidVersion === 'number' && cidVersion !== 0 && cidVersion !== 1) throw new CommandError(`unknown CID version: ${cidVersion}`)
  // A form without any part is Kubo's "expected a file argument".
  const peeked = await peekParts(ctx.body(), ctx.contentType)
  if (!peeked.hasPart) {
    peeked.body.destroy()
    throw new CommandError('expected a file argument')
  }
  const decision = h.placement.place({ key: randomUUID(), name: pinName, replication: cluster.replication, size })
  if (!storing) {
    try {
      return await hashOnly(ctx, peeked.body)
    } catch (err) {
      // Options that importer lacks (another hash function, a rabin chunker) go to a
      // member that computes them, which a cluster proxy does not.
      const able = err instanceof UnsupportedError ? decision.ranked.map(n => h.members.get(n)!).find(m => m.kind !== 'cluster-proxy') : undefined
      if (able === undefined) {
        peeked.body.destroy()
        throw err
      }
      return await forwardTo(ctx.c, able, { command: 'add', query, body: peeked.body, contentType: ctx.contentType, scope: ctx.scope, signal: ctx.signal })
    }
  }
  // Nothing to replicate: one member does the whole thing, a Kubo-like one as it answers.
  const single = pinning ? undefined : h.members.get(decision.ranked[0] ?? h.topology.passthrough)!
  if (single !== undefined && single.kind !== 'cluster-proxy') {
    return await forwardTo(ctx.c, single, { command: 'add', query, body: peeked.body, contentType: ctx.contentType, scope: ctx.scope, signal: ctx.signal })
  }
  const { min, max } = single !== undefined ? { min: 1, max: 1 } : decision.replication
  const targets = single !== undefined ? [single] : decision.ranked.slice(0, max).map(n => h.members.get(n)!)
  if (targets.length < min) {
    throw new NotEnoughReplicasError('add', 0, min, [`only ${targets.length} members are up and eligible`])
  }

  const abort = new AbortController()
  const signal = anySignal([ctx.signal, abort.signal])
  // The part names a cluster proxy's events lack, read from the upload as it passes.
  const parts = targets.some(m => m.kind === 'cluster-proxy') ? new UploadParts(ctx.contentType, signal) : undefined
  const lanes: Lane[] = targets.map(member => ({
    member, pass: new PassThrough({ highWaterMark: 256 * 1024 }), alive: true, queue: [], results: 0, finished: false,
    names: member.kind === 'cluster-proxy' && parts !== undefined ? new KuboAddNames(parts) : undefined,
  }))
  const out = pushable<AddEvent>({ objectMode: true })
  const sent: Array<{ Name: string, Hash: string }> = []
  let progressLane: Lane | undefined = lanes[0]
  const diverged: string[] = []

  const kill = (lane: Lane, err: unknown): void => {
    if (!lane.alive) return
    lane.alive = false
    lane.failure = err
    lane.pass.destroy()
    if (progressLane === lane) progressLane = lanes.find(l => l.alive)
    h.log.warn({ ...logFields(ctx.scope), member: lane.member.name, err: errorMessage(err) }, 'add: member dropped')
  }

  /** Emit every position all live members have answered; the majority decides. */
  const decide = (): void => {
    for (;;) {
      // Progress lines now at the head of a queue: the progress lane's go out, others' go.
      for (const l of lanes) {
        while (l.alive && l.queue.length > 0 && l.queue[0].Hash === undefined) {
          const ev = l.queue.shift()!
          if (l === progressLane) out.push(ev)
        }
      }
      const live = lanes.filter(l => l.alive)
      if (live.some(l => l.queue.length === 0 && !l.finished)) return
      const candidates = live.filter(l => l.queue.length > 0)
      if (candidates.length === 0) return
      const groups = new Map<string, Lane[]>()
      for (const l of candidates) {
        const k = `${l.queue[0].Hash ?? ''}\u0000${l.queue[0].Name}`
        groups.set(k, [...(groups.get(k) ?? []), l])
      }
      // largest group; lanes are in placement order, so the first group found wins ties
      const winners = [...groups.values()].reduce((best, g) => g.length > best.length ? g : best)
      const ev = winners[0].queue[0]
      sent.push({ Name: ev.Name, Hash: ev.Hash! })
      out.push(ev)
      for (const l of candidates) {
        if (winners.includes(l)) {
          l.queue.shift()
          l.results++
        } else {
          diverged.push(`${l.member.name} returned ${l.queue[0].Hash ?? '?'} for "${l.queue[0].Name}" where ${ev.Hash ?? '?'} was expected`)
          kill(l, new Error(`CID mismatch: ${l.queue[0].Hash ?? '?'} != ${ev.Hash ?? '?'}`))
        }
      }
    }
  }

  const onEvent = (lane: Lane, ev: AddEvent): void => {
    lane.queue.push(lane.names?.fix(ev) ?? ev)
    decide()
  }

  const runLane = async (lane: Lane): Promise<void> => {
    try {
      for await (const ev of lane.member.ndjson<AddEvent>('add', { query, body: lane.pass, contentType: ctx.contentType, scope: ctx.scope, signal })) {
        if (!lane.alive) break // leaving the loop cancels the member's answer
        onEvent(lane, ev)
      }
      if (lane.alive) lane.finished = true
    } catch (err) {
      kill(lane, err)
      if (isLoopRefusal(err)) {
        // A loop below fails the whole add with it, before any output if possible.
        for (const l of lanes) kill(l, err)
        abort.abort(err)
      }
    }
    decide() // a lane that ended or died may unblock the positions others are waiting on
  }

  const pump = async (body: Readable): Promise<void> => {
    try {
      for await (const chunk of body) {
        h.metrics.addBytes.inc((chunk as Buffer).length)
        const live = lanes.filter(l => l.alive)
        if (live.length === 0) break
        if (parts !== undefined) await write(parts.sink, chunk as Buffer)
        await Promise.all(live.map(async l => { if (l.alive) await write(l.pass, chunk as Buffer) }))
      }
      parts?.sink.end()
      for (const l of lanes) if (l.alive) l.pass.end()
    } catch (err) {
      // The client's upload failed (disconnect, truncation): every member must see it fail too.
      parts?.sink.destroy()
      for (const l of lanes) kill(l, new Error(`upload from client failed: ${errorMessage(err)}`))
      abort.abort(err)
    }
  }

  const done = Promise.all([pump(peeked.body), ...lanes.map(runLane)]).then(async () => {
    const ok = lanes.filter(l => l.alive && l.finished && l.results === sent.length)
    // Members that finished did pin: the store must know, whatever else went wrong.
    if (ok.length > 0 && pinning) await record(h, sent, options['wrap-with-directory'] === true, ok.map(l => l.member.name), pinName, cluster.metadata, min, max)
    if (diverged.length > 0) throw new CommandError(`add: members disagree on the result: ${diverged.join('; ')}`)
    // A loop below is the answer as it is (508), whatever the other members did.
    const loop = lanes.find(l => isLoopRefusal(l.failure))
    if (loop !== undefined) throw loop.failure
    if (ok.length < min) {
      // Every member refused the same way (a bad chunker, say): that is the client's error,
      // and its message is the member's own, as Kubo would give it.
      const refusals = new Set(lanes.map(l => isMemberAnswer(l.failure) ? l.failure.message : undefined))
      const [only] = refusals
      if (ok.length === 0 && refusals.size === 1 && only !== undefined && sent.length === 0) throw new CommandError(only)
      throw new NotEnoughReplicasError(sent.at(-1)?.Hash ?? 'add', ok.length, min,
        lanes.filter(l => !ok.includes(l)).map(l => `${l.member.name}: ${l.failure !== undefined ? errorMessage(l.failure) : 'incomplete answer'}`))
    }
  })
  done.then(() => { out.end() }, (err: unknown) => { out.end(err as Error) }).finally(() => { signal.clear() })

  // `silent`: Kubo writes no events at all, only an error if there is one.
  const events = options.silent === true ? (async function * () { for await (const _ of out) { /* dropped */ } })() : out
  return await sendChannel(ctx.c, events, {}, (err) => { h.log.warn({ ...logFields(ctx.scope), err: errorMessage(err) }, 'add failed after output began') })
}

/** Write with backpressure; a stream destroyed meanwhile takes nothing more. */
async function write (pass: PassThrough, chunk: Buffer): Promise<void> {
  if (pass.destroyed) return
  if (pass.write(chunk)) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      pass.off('drain', done)
      pass.off('close', done)
      resolve()
    }
    pass.on('drain', done)
    pass.on('close', done)
  })
}

/**
 * only-hash: the CIDs only, which the hub computes itself with the embedded node's
 * importer (Kubo's CIDs and events), storing nothing and asking no member (a cluster
 * proxy refuses only-hash, then adds anyway). Option errors are thrown before the body
 * is read, an UnsupportedError for what that importer lacks.
 */
async function hashOnly (ctx: CommandContext, body: Readable): Promise<Response> {
  const o = resolveAddOptions(addOptionsOf(ctx.options))
  const stop = new AbortController()
  const signal = anySignal([ctx.signal, stop.signal])
  const entries = multipartEntries(body, ctx.contentType, signal)
  const events = addEventStream(async (emit) => { await runAdd(entries, o, { store: DISCARD, pin: () => {}, emit, signal }) },
    (reason) => { stop.abort(reason) }, () => { signal.clear() })
  return await sendChannel(ctx.c, events)
}

/** The roots Kubo pins: the wrapper with -w, else each top-level entry (a name without `/`). */
async function record (h: HubComponents, sent: Array<{ Name: string, Hash: string }>, wrapped: boolean, members: string[],
  name: string | undefined, metadata: Record<string, string>, min: number, max: number): Promise<void> {
  if (sent.length === 0) return
  const roots = wrapped ? [sent[sent.length - 1]] : sent.filter(e => !e.Name.includes('/'))
  await Promise.all(roots.map(async root => {
    await h.store.putPin({
      cid: root.Hash, name: name ?? '', mode: 'recursive', state: 'pinned', metadata, replicationMin: min, replicationMax: max,
    }, members.map(member => ({ member, status: 'pinned' as const })))
  }))
}
