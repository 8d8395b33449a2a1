/**
 * @module embedded/routes
 * The embedded node's Kubo RPC subset, on the same transport as the hub (so both parse,
 * stream and fail alike): add, cat, pin/*, refs, repo/stat, repo/gc, block/*, dag/export,
 * dag/import, resolve, id, version. Anything else is Kubo's 404.
 */
import type { Command, CommandContext } from '../kubo/transport.js'
import { sendBytes, sendChannel, sendValue } from '../kubo/respond.js'
import type { CommandSpec } from '../kubo/options.js'
import { ADD_OPTIONS, PIN_ADD_OPTIONS, PIN_LS_OPTIONS, VERSION_OPTIONS, versionInfo } from '../kubo/specs.js'
import { multipartEntries } from '../kubo/multipart.js'
import { CommandError } from '../errors.js'
import type { EmbeddedNode } from './node.js'
import { addOptionsOf } from './importer.js'

const cidArgs = (name = 'ipfs-path', stdin = false): CommandSpec['args'] => [{ name, required: true, variadic: true, stdin }]

export function embeddedCommands (node: EmbeddedNode): Command[] {
  const cmd = (spec: CommandSpec, handler: (ctx: CommandContext) => Promise<Response>): Command => ({ spec, handler })
  const version = versionInfo(`supercluster-embedded node/${process.version}`)
  return [
    cmd({ path: 'version', options: VERSION_OPTIONS }, async (ctx) => await sendValue(ctx.c, version)),

    cmd({ path: 'id', args: [{ name: 'peerid' }] }, async (ctx) => {
      const id = node.identity()
      if (ctx.args.length > 0 && ctx.args[0] !== id.id) throw new CommandError("'ipfs id' cannot query information on remote peers: the embedded node is offline")
      return await sendValue(ctx.c, { ID: id.id, PublicKey: id.publicKey, Addresses: [], AgentVersion: 'supercluster-embedded/0.1.0', Protocols: [] })
    }),

    cmd({
      path: 'add',
      args: [{ name: 'path', required: true, file: true }],
      options: ADD_OPTIONS,
    }, async (ctx) => {
      const o = ctx.options
      const pinName = o['pin-name'] as string | undefined
      if (pinName !== undefined && o.pin === false) throw new CommandError('pin-name option requires pin to be set')
      const cidVersion = o['cid-version'] as number | undefined
      if (cidVersion !== undefined && cidVersion !== 0 && cidVersion !== 1) throw new CommandError(`unknown CID version: ${cidVersion}`)
      const entries = multipartEntries(ctx.body(), ctx.contentType, ctx.signal)
      const events = node.add(entries, addOptionsOf(o, ctx.signal))
      return await sendChannel(ctx.c, events)
    }),

    cmd({ path: 'cat', args: cidArgs('ipfs-path', true), options: [{ name: 'offset', aliases: ['o'], type: 'int' }, { name: 'length', aliases: ['l'], type: 'int' }] },
      async (ctx) => {
        const offset = ctx.options.offset as number | undefined
        const length = ctx.options.length as number | undefined
        if (offset !== undefined && offset < 0) throw new CommandError('cannot specify negative offset')
        if (length !== undefined && length < 0) throw new CommandError('cannot specify negative length')
        const parts = []
        let total = 0n
        for (const arg of ctx.args) {
          const r = await node.cat(arg, { offset, length, signal: ctx.signal })
          parts.push(r)
          total += r.size
        }
        return await sendBytes(ctx.c, (async function * () { for (const p of parts) yield * p.content })(), { contentLength: total })
      }),

    cmd({ path: 'ls', args: cidArgs('ipfs-path', true), options: [{ name: 'resolve-type', type: 'bool' }, { name: 'size', type: 'bool' }, { name: 'stream', aliases: ['s'], type: 'bool' }] },
      async (ctx) => {
        const objects = []
        for (const arg of ctx.args) objects.push({ Hash: arg, Links: await node.ls(arg, { signal: ctx.signal }) })
        return await sendValue(ctx.c, { Objects: objects })
      }),

    cmd({ path: 'resolve', args: [{ name: 'name', required: true }], options: [{ name: 'recursive', aliases: ['r'], type: 'bool' }] },
      async (ctx) => await sendValue(ctx.c, { Path: `/ipfs/${(await node.resolve(ctx.args[0], { signal: ctx.signal })).toString()}` })),

    cmd({ path: 'pin/add', args: cidArgs('ipfs-path', true), options: PIN_ADD_OPTIONS },
      async (ctx) => {
        const cids = await Promise.all(ctx.args.map(async a => await node.resolve(a, { signal: ctx.signal })))
        const pinned = await node.pinAdd(cids, { recursive: ctx.options.recursive !== false, name: ctx.options.name as string | undefined, signal: ctx.signal })
        const Pins = pinned.map(c => c.toString())
        if (ctx.options.progress === true) return await sendChannel(ctx.c, (async function * () { yield { Pins } })())
        return await sendValue(ctx.c, { Pins })
      }),

    cmd({ path: 'pin/rm', args: cidArgs('ipfs-path', true), options: [{ name: 'recursive', aliases: ['r'], type: 'bool', default: true }] },
      async (ctx) => {
        const cids = await Promise.all(ctx.args.map(async a => await node.resolve(a, { signal: ctx.signal })))
        const removed = await node.pinRm(cids, { recursive: ctx.options.recursive !== false, signal: ctx.signal })
        return await sendValue(ctx.c, { Pins: removed.map(c => c.toString()) })
      }),

    cmd({ path: 'pin/update', args: [{ name: 'from-path', required: true }, { name: 'to-path', required: true }], options: [{ name: 'unpin', type: 'bool', default: true }] },
      async (ctx) => {
        const from = await node.resolve(ctx.args[0], { signal: ctx.signal })
        const to = await node.resolve(ctx.args[1], { signal: ctx.signal })
        await node.pinUpdate(from, to, { unpin: ctx.options.unpin !== false, signal: ctx.signal })
        return await sendValue(ctx.c, { Pins: [from.toString(), to.toString()] })
      }),

    cmd({
      path: 'pin/ls',
      args: [{ name: 'ipfs-path', variadic: true }],
      options: PIN_LS_OPTIONS,
    }, async (ctx) => {
      const nameFilter = ctx.options.name as string | undefined
      const withNames = ctx.options.names === true || nameFilter !== undefined
      const pins = node.pinLs({ type: ctx.options.type as 'all', paths: ctx.args.length > 0 ? ctx.args : undefined, name: nameFilter, signal: ctx.signal })
      if (ctx.options.stream === true) {
        return await sendChannel(ctx.c, (async function * () {
          for await (const p of pins) yield withNames && p.name !== undefined && p.name !== '' ? { Cid: p.cid.toString(), Name: p.name, Type: p.type } : { Cid: p.cid.toString(), Type: p.type }
        })())
      }
      const keys: Record<string, { Type: string, Name: string }> = {}
      let any = false
      for await (const p of pins) {
        keys[p.cid.toString()] = { Type: p.type, Name: withNames ? p.name ?? '' : '' }
        any = true
      }
      return await sendValue(ctx.c, any ? { Keys: keys } : {})
    }),

    cmd({ path: 'repo/stat', options: [{ name: 'size-only', aliases: ['s'], type: 'bool' }, { name: 'human', aliases: ['H'], type: 'bool' }] },
      async (ctx) => await sendValue(ctx.c, await node.repoStat({ sizeOnly: ctx.options['size-only'] === true }))),

    cmd({ path: 'repo/gc', options: [{ name: 'stream-errors', type: 'bool' }, { name: 'quiet', aliases: ['q'], type: 'bool' }, { name: 'silent', type: 'bool' }] },
      async (ctx) => await sendChannel(ctx.c, (async function * () {
        for await (const cid of node.repoGc({ signal: ctx.signal })) yield { Key: { '/': cid.toString() } }
      })())),

    cmd({ path: 'block/put', args: [{ name: 'data', required: true, file: true }], options: [{ name: 'cid-codec', type: 'string' }, { name: 'mhtype', type: 'string' }, { name: 'format', aliases: ['f'], type: 'string' }, { name: 'pin', type: 'bool' }] },
      async (ctx) => {
        const o = ctx.options
        const entries = multipartEntries(ctx.body(), ctx.contentType, ctx.signal)
        return await sendChannel(ctx.c, (async function * () {
          for await (const e of entries) {
            const chunks: Uint8Array[] = []
            for await (const c of e.content ?? []) chunks.push(c)
            const cid = await node.blockPut(Buffer.concat(chunks), { cidCodec: o['cid-codec'] as string | undefined, mhtype: o.mhtype as string | undefined, format: o.format as string | undefined, pin: o.pin === true, signal: ctx.signal })
            yield { Key: cid.toString(), Size: node.blockSize(cid) }
          }
        })())
      }),

    cmd({ path: 'block/get', args: [{ name: 'cid', required: true }] },
      async (ctx) => {
        const cid = await node.resolve(ctx.args[0], { signal: ctx.signal })
        const bytes = await node.blockGet(cid, { signal: ctx.signal })
        return await sendBytes(ctx.c, (async function * () { yield bytes })(), { contentLength: bytes.length })
      }),

    cmd({ path: 'block/stat', args: [{ name: 'cid', required: true }] },
      async (ctx) => {
        const cid = await node.resolve(ctx.args[0], { signal: ctx.signal })
        return await sendValue(ctx.c, await node.blockStat(cid, { signal: ctx.signal }))
      }),

    cmd({ path: 'refs', args: cidArgs('ipfs-path', true), options: [{ name: 'recursive', aliases: ['r'], type: 'bool' }, { name: 'unique', aliases: ['u'], type: 'bool' }] },
      async (ctx) => await sendChannel(ctx.c, (async function * () {
        for (const arg of ctx.args) {
          for await (const ref of node.refs(arg, { recursive: ctx.options.recursive === true, unique: ctx.options.unique === true, signal: ctx.signal })) {
            yield { Ref: ref.toString(), Err: '' }
          }
        }
      })())),

    cmd({ path: 'dag/export', args: [{ name: 'root', required: true }] },
      async (ctx) => {
        const cid = await node.resolve(ctx.args[0], { signal: ctx.signal })
        return await sendBytes(ctx.c, node.dagExport(cid, { signal: ctx.signal }), { contentType: 'application/vnd.ipld.car' })
      }),

    cmd({ path: 'dag/import', args: [{ name: 'path', required: true, file: true }], options: [{ name: 'pin-roots', type: 'bool', default: true }, { name: 'stats', type: 'bool' }] },
      async (ctx) => {
        const entries = multipartEntries(ctx.body(), ctx.contentType, ctx.signal)
        return await sendChannel(ctx.c, (async function * () {
          for await (const e of entries) {
            const result = await node.dagImport(e.content ?? [], { pinRoots: ctx.options['pin-roots'] !== false, signal: ctx.signal })
            for (const r of result.roots) {
              yield { Root: { Cid: { '/': r.cid.toString() }, PinErrorMsg: r.pinError ?? '' } }
            }
          }
        })())
      }),
  ]
}
