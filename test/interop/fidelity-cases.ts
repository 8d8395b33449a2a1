/**
 * @module test/interop/fidelity-cases
 * The request list of the fidelity diff (fidelity.test.ts): each case is one HTTP request
 * sent, unchanged, to the hub and to the reference Kubo daemon. Cases run in this order,
 * and the state-changing ones (add, pin/*, block/put, dag/put, repo/gc) reach both sides
 * identically, so the pin states stay comparable from case to case.
 *
 * Two kinds of relaxation, kept apart on purpose:
 * - `normalize`: what two Kubo daemons of the same version would legitimately answer
 *   differently (their peer IDs, repo sizes and paths, their swarm peers, the pins other
 *   test files left behind). Applied to both sides before anything is compared.
 * - `deliberate`: where the hub chooses to differ from Kubo. The case is compared strictly
 *   first; only if that finds differences is the named aspect relaxed, and the verdict
 *   then says `deliberate: <why>` instead of `same`.
 */
import { randomBytes } from 'node:crypto'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** One multipart part (Go CLI layout: flat parts, full paths in the filename). */
export interface Part {
  filename: string
  content?: string | Buffer
  /** application/octet-stream (file, the default) or application/x-directory */
  contentType?: string
  /** The form field name; Kubo ignores it. */
  field?: string
}

/** What the setup added to both sides, and what cases learn while they run. */
export interface Ctx {
  token: string
  /** a recursively pinned file (added with pin=true) */
  r1: string
  /** a pinned directory `fdir` with `a.txt` and `sub/b.txt`, and those children's CIDs */
  dir: string
  dirA: string
  dirSub: string
  dirB: string
  /** never pinned */
  u1: string
  /** added with pin=false, pinned (or not) by the cases: p[1] … p[11] */
  p: Record<number, string>
  /** CIDs this run made; listings without arguments are narrowed to these */
  known: Set<string>
  /** values taken from earlier answers (block/put's Key, dag/put's Cid) */
  learned: Record<string, string>
}

export interface Deliberate {
  why: string
  /** headers (lower case) the hub may add, drop or change */
  headers?: string[]
  /** JSON fields whose values are compared by JSON type only */
  mask?: string[]
  /** transforms Kubo's parsed lines into what the hub promises instead */
  kubo?: (lines: Json[]) => Json[]
  /** the whole answer is the hub's own choice: only that both sides answered is checked */
  whole?: boolean
}

export interface Case {
  name: string
  method?: string
  /** path and query under `/api/v0`; a function for values learned at run time */
  path: string | (() => string)
  /** the path is from the server root instead of `/api/v0` */
  root?: boolean
  /** request headers; a function gets the side's own origin (`http://127.0.0.1:<port>`) */
  headers?: Record<string, string> | ((self: string) => Record<string, string>)
  multipart?: Part[]
  body?: { data: string | Buffer, contentType: string }
  /** legitimate per-daemon differences, applied to the parsed JSON lines of both sides */
  normalize?: (lines: Json[], ctx: Ctx) => Json[]
  /** the same for a body that is not JSON (tar output) */
  normalizeBytes?: (body: Buffer) => string
  deliberate?: Deliberate
}

export const fresh = (label: string): string => `fidelity ${label} ${randomBytes(12).toString('hex')}\n`

// ---------------------------------------------------------------------------------------
// Normalisers (both sides)

const isObj = (v: Json): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v)

/** repo/stat: sizes and object counts are each daemon's own; RepoPath is each repo's path. */
export function repoStatValues (lines: Json[]): Json[] {
  return lines.map(l => {
    if (!isObj(l)) return l
    const out: { [k: string]: Json } = { ...l }
    for (const k of ['RepoSize', 'StorageMax', 'NumObjects']) if (typeof out[k] === 'number') out[k] = out[k] === 0 ? 0 : '<u64>'
    if (typeof out.RepoPath === 'string' && out.RepoPath !== '') out.RepoPath = '<repo-path>'
    return out
  })
}

/** swarm/peers: which peers a node is connected to is that node's own business. */
export function swarmPeers (lines: Json[]): Json[] {
  return lines.map(l => isObj(l) && 'Peers' in l ? { ...l, Peers: '<peer list>' } : l)
}

/**
 * pin/ls without arguments: both daemons are shared with the other test files, so only
 * pins of CIDs this run made are compared.
 */
export function onlyKnown (lines: Json[], ctx: Ctx): Json[] {
  const out: Array<{ [k: string]: Json }> = []
  const rank = (t: Json): number => ['recursive', 'direct'].indexOf(String(t)) >>> 0
  for (const l of lines) {
    if (isObj(l) && isObj(l.Keys ?? null)) {
      const keys = Object.fromEntries(Object.entries(l.Keys as Record<string, Json>).filter(([k]) => ctx.known.has(k)))
      out.push(Object.keys(keys).length > 0 ? { Keys: keys } : {})
    } else if (isObj(l) && typeof l.Cid === 'string') {
      if (ctx.known.has(l.Cid)) out.push(l)
    } else {
      return lines // not a listing (an error): unchanged
    }
  }
  // Within one type, Kubo lists in its datastore's order, which means nothing; the order
  // of the types (recursive, direct, indirect) is kept.
  return out.sort((a, b) => rank(a.Type ?? null) - rank(b.Type ?? null) || String(a.Cid ?? '').localeCompare(String(b.Cid ?? '')))
}

/**
 * `get`'s tar: the entries (type, name, size, content) with the pax time records left
 * out, since each daemon stamps the time it wrote the archive.
 */
export function tarListing (buf: Buffer): string {
  const out: string[] = []
  const field = (b: Buffer): string => b.toString('utf8').replace(/\0[\s\S]*$/, '')
  let off = 0
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512)
    if (h.every(b => b === 0)) break
    const size = parseInt(field(h.subarray(124, 136)).trim() || '0', 8)
    const type = String.fromCharCode(h[156] === 0 ? 48 : h[156])
    const data = buf.subarray(off + 512, off + 512 + size)
    const content = type === 'x' || type === 'g'
      ? data.toString('utf8').split('\n').filter(r => r !== '' && !/^\d+ (mtime|atime|ctime)=/.test(r)).map(r => r.replace(/^\d+ /, '')).join('|')
      : data.toString('utf8')
    // A pax header's length counts its mtime record, whose digits vary with the time of
    // the request; its records are compared without the times instead.
    const shownSize = type === 'x' || type === 'g' ? '-' : String(size)
    out.push(`${type} ${field(h.subarray(0, 100))} mode=${field(h.subarray(100, 108))} size=${shownSize} ${JSON.stringify(content)}`)
    off += 512 + Math.ceil(size / 512) * 512
  }
  return out.join('\n')
}

/**
 * repo/gc: which blocks each daemon collects depends on what it stores; compared is the
 * shape of the lines (the set of distinct key/type signatures), not their number or CIDs.
 */
export function gcShapes (lines: Json[]): Json[] {
  const sig = (v: Json): string => Array.isArray(v) ? 'array' : isObj(v) ? `{${Object.keys(v).sort().map(k => `${k}:${sig(v[k])}`).join(',')}}` : v === null ? 'null' : typeof v
  return [...new Set(lines.map(sig))].sort()
}

// ---------------------------------------------------------------------------------------
// The cases

const evil = 'http://evil.example'
const ACRM = 'Access-Control-Request-Method'

export function buildCases (ctx: Ctx): Case[] {
  const { p, token } = ctx
  const file = (filename: string, content: string | Buffer): Part => ({ filename, content })
  const big = randomBytes(300_000)
  const mid = randomBytes(5_000)

  return [
    // --- add -----------------------------------------------------------------------------
    { name: 'add: one file', path: '/add', multipart: [file('one.txt', fresh('one'))] },
    { name: 'add: cid-version=1', path: '/add?cid-version=1', multipart: [file('v1.txt', fresh('v1'))] },
    { name: 'add: raw-leaves=true, 2 chunks', path: '/add?raw-leaves=true', multipart: [file('raw.bin', big)] },
    { name: 'add: cid-version=1&raw-leaves=false', path: '/add?cid-version=1&raw-leaves=false', multipart: [file('v1pb.txt', fresh('v1pb'))] },
    { name: 'add: pin=false', path: '/add?pin=false', multipart: [file('nopin.txt', fresh('nopin'))] },
    { name: 'add: wrap-with-directory=true', path: '/add?wrap-with-directory=true', multipart: [file('w.txt', fresh('wrap'))] },
    { name: 'add: quiet=true', path: '/add?quiet=true', multipart: [file('q.txt', fresh('quiet'))] },
    { name: 'add: only-hash=true', path: '/add?only-hash=true', multipart: [file('oh.txt', fresh('only-hash'))] },
    { name: 'add: chunker=size-1024', path: '/add?chunker=size-1024', multipart: [file('chunked.bin', mid)] },
    { name: 'add: progress=true (300 kB)', path: '/add?progress=true', multipart: [file('progress.bin', randomBytes(300_000))] },
    {
      name: 'add: multi-file multipart with a directory',
      path: '/add',
      multipart: [
        { filename: 'mdir', contentType: 'application/x-directory' },
        file('mdir/a.txt', fresh('mdir a')),
        file('mdir/b.txt', fresh('mdir b')),
        file('top.txt', fresh('top')),
      ],
    },
    { name: 'add: unnamed part (filename="")', path: '/add', multipart: [file('', fresh('unnamed'))] },
    { name: 'add: empty file, progress=true', path: '/add?progress=true&cid-version=1', multipart: [file('empty.txt', '')] },
    { name: 'add: trickle=true', path: '/add?trickle=true&chunker=size-512', multipart: [file('trickle.bin', randomBytes(4000))] },
    { name: 'add: pin-name', path: `/add?pin-name=${token}-added`, multipart: [file('named.txt', fresh('pin-name'))] },
    { name: 'add: silent=true', path: '/add?silent=true', multipart: [file('silent.txt', fresh('silent'))] },
    { name: 'add: Go CLI query (encoding, stream-channels, inline-limit)', path: '/add?encoding=json&stream-channels=true&pin=true&inline-limit=32&empty-dirs=true&progress=false', multipart: [file('cli.txt', fresh('cli'))] },

    // --- pin/add ---------------------------------------------------------------------------
    { name: 'pin/add: two args', path: `/pin/add?arg=${p[1]}&arg=${p[2]}` },
    { name: 'pin/add: recursive=false', path: `/pin/add?arg=${p[3]}&recursive=false` },
    { name: 'pin/add: progress=true', path: `/pin/add?arg=${p[4]}&progress=true` },
    { name: 'pin/add: path form /pin/add/<cid>', path: `/pin/add/${p[5]}` },
    { name: 'pin/add: name=', path: `/pin/add?arg=${p[6]}&name=${token}-p6` },
    { name: 'pin/add: stdin argument (multipart body)', path: '/pin/add', multipart: [file('stdin', `${p[7]}\n`)] },
    { name: 'pin/add: /ipfs/<dir>/sub path', path: `/pin/add?arg=/ipfs/${ctx.dir}/sub` },
    { name: 'pin/add: already pinned recursively', path: `/pin/add?arg=${ctx.r1}` },
    { name: 'pin/add: direct pin of a recursive pin', path: `/pin/add?arg=${ctx.r1}&recursive=false` },
    { name: 'pin/add: JS client query (stream, metadata ignored)', path: `/pin/add?arg=${p[9]}&recursive=true&stream=true` },

    // --- pin/ls ----------------------------------------------------------------------------
    { name: 'pin/ls: arg', path: `/pin/ls?arg=${p[1]}` },
    { name: 'pin/ls: arg, type=recursive', path: `/pin/ls?arg=${p[1]}&type=recursive` },
    { name: 'pin/ls: arg, type=direct', path: `/pin/ls?arg=${p[3]}&type=direct` },
    { name: 'pin/ls: arg, type=all', path: `/pin/ls?arg=${p[1]}&type=all` },
    { name: 'pin/ls: recursive pin with type=direct', path: `/pin/ls?arg=${p[1]}&type=direct` },
    { name: 'pin/ls: indirect child, type=indirect', path: `/pin/ls?arg=${ctx.dirA}&type=indirect` },
    { name: 'pin/ls: indirect child, type=all', path: `/pin/ls?arg=${ctx.dirA}` },
    { name: 'pin/ls: arg, stream=true', path: `/pin/ls?arg=${p[1]}&stream=true` },
    { name: 'pin/ls: arg, quiet=true', path: `/pin/ls?arg=${p[1]}&quiet=true` },
    { name: 'pin/ls: arg, names=true', path: `/pin/ls?arg=${p[6]}&names=true` },
    { name: 'pin/ls: arg, names=true, stream=true', path: `/pin/ls?arg=${p[6]}&names=true&stream=true` },
    { name: 'pin/ls: named pin without names=true', path: `/pin/ls?arg=${p[6]}&stream=true` },
    { name: 'pin/ls: two args', path: `/pin/ls?arg=${p[1]}&arg=${p[3]}` },
    { name: 'pin/ls: /ipfs/<cid> path arg', path: `/pin/ls?arg=/ipfs/${p[1]}` },
    { name: 'pin/ls: not pinned', path: `/pin/ls?arg=${ctx.u1}` },
    { name: 'pin/ls: type=bogus', path: '/pin/ls?type=bogus' },
    { name: 'pin/ls: stream=yes (bad bool)', path: '/pin/ls?stream=yes' },
    { name: 'pin/ls: listing, type=recursive, stream', path: '/pin/ls?type=recursive&stream=true', normalize: onlyKnown },
    { name: 'pin/ls: listing, type=direct, stream', path: '/pin/ls?type=direct&stream=true', normalize: onlyKnown },
    { name: 'pin/ls: listing, type=all (not streamed)', path: '/pin/ls', normalize: onlyKnown },
    { name: 'pin/ls: listing, type=all, stream', path: '/pin/ls?stream=true', normalize: onlyKnown },
    { name: 'pin/ls: listing, type=indirect, stream', path: '/pin/ls?type=indirect&stream=true', normalize: onlyKnown },
    { name: 'pin/ls: name filter, stream', path: `/pin/ls?name=${token}&stream=true` },
    { name: 'pin/ls: name filter, not streamed', path: `/pin/ls?name=${token}` },
    { name: 'pin/ls: name filter matching nothing, stream', path: `/pin/ls?name=${token}-nothing&stream=true` },
    { name: 'pin/ls: name filter matching nothing', path: `/pin/ls?name=${token}-nothing` },

    // --- pin/rm ----------------------------------------------------------------------------
    { name: 'pin/rm: arg', path: `/pin/rm?arg=${p[2]}` },
    { name: 'pin/rm: not pinned', path: `/pin/rm?arg=${p[2]}` },
    { name: 'pin/rm: direct pin, recursive=false', path: `/pin/rm?arg=${p[3]}&recursive=false` },
    { name: 'pin/rm: recursive pin, recursive=false', path: `/pin/rm?arg=${ctx.r1}&recursive=false` },
    { name: 'pin/rm: path form /pin/rm/<cid>', path: `/pin/rm/${p[5]}` },
    { name: 'pin/rm: missing arg', path: '/pin/rm' },

    // --- pin/update ------------------------------------------------------------------------
    { name: 'pin/update: from → to', path: `/pin/update?arg=${p[1]}&arg=${p[8]}` },
    { name: 'pin/update: unpin=false', path: `/pin/update?arg=${p[4]}&arg=${p[10]}&unpin=false` },
    { name: 'pin/update: from not pinned', path: `/pin/update?arg=${ctx.u1}&arg=${p[2]}` },
    { name: 'pin/update: one arg', path: `/pin/update?arg=${p[8]}` },
    { name: 'pin/ls: after update (old gone)', path: `/pin/ls?arg=${p[1]}` },
    { name: 'pin/ls: after update (new, stream)', path: `/pin/ls?arg=${p[8]}&stream=true` },

    // --- repo/stat -------------------------------------------------------------------------
    { name: 'repo/stat', path: '/repo/stat', normalize: repoStatValues, deliberate: { why: 'the hub reports how many members answered in X-Supercluster-* headers', headers: ['x-supercluster-members', 'x-supercluster-members-failed'] } },
    { name: 'repo/stat: size-only=true', path: '/repo/stat?size-only=true', normalize: repoStatValues, deliberate: { why: 'the hub reports how many members answered in X-Supercluster-* headers', headers: ['x-supercluster-members', 'x-supercluster-members-failed'] } },
    { name: 'repo/stat: human=true', path: '/repo/stat?human=true', normalize: repoStatValues, deliberate: { why: 'the hub reports how many members answered in X-Supercluster-* headers', headers: ['x-supercluster-members', 'x-supercluster-members-failed'] } },
    { name: 'repo/stat: size-only=maybe', path: '/repo/stat?size-only=maybe' },

    // --- block/put, dag/put ----------------------------------------------------------------
    { name: 'block/put: pin=true', path: '/block/put?pin=true', multipart: [file('block', randomBytes(300))] },
    { name: 'pin/ls: the block/put pin', path: () => `/pin/ls?arg=${ctx.learned['block/put?pin=true']}&stream=true` },
    { name: 'block/put: no pin', path: '/block/put', multipart: [file('block', randomBytes(200))] },
    { name: 'dag/put: pin=true', path: '/dag/put?pin=true', multipart: [file('node.json', JSON.stringify({ fidelity: token, n: 1 }))] },
    { name: 'pin/ls: the dag/put pin', path: () => `/pin/ls?arg=${ctx.learned['dag/put?pin=true']}&stream=true` },
    { name: 'dag/put: no pin', path: '/dag/put', multipart: [file('node.json', JSON.stringify({ fidelity: token, n: 2 }))] },
    { name: 'block/put: pin=true, two blocks', path: '/block/put?pin=true', multipart: [file('b1', randomBytes(100)), file('b2', randomBytes(120))] },

    // --- errors ----------------------------------------------------------------------------
    { name: 'err: pin/add missing arg', path: '/pin/add' },
    { name: 'err: pin/add malformed CID', path: '/pin/add?arg=notacid' },
    { name: 'err: pin/add recursive=maybe', path: `/pin/add?arg=${p[9]}&recursive=maybe` },
    { name: 'err: pin/add r and recursive', path: `/pin/add?arg=${p[11]}&r=true&recursive=true` },
    { name: 'err: pin/add recursive given twice', path: `/pin/add?arg=${p[9]}&recursive=true&recursive=false` },
    { name: 'err: pin/add name over 255 bytes', path: `/pin/add?arg=${p[9]}&name=${'x'.repeat(256)}` },
    { name: 'err: add non-multipart body', path: '/add', body: { data: 'hello\n', contentType: 'application/octet-stream' } },
    { name: 'err: add multipart without parts', path: '/add', multipart: [] },
    { name: 'err: add chunker=bogus', path: '/add?chunker=bogus', multipart: [file('c.txt', fresh('chunker'))] },
    { name: 'err: add cid-version=9', path: '/add?cid-version=9', multipart: [file('c.txt', fresh('cidv9'))] },
    { name: 'err: add cid-version=x', path: '/add?cid-version=x', multipart: [file('c.txt', fresh('cidvx'))] },
    { name: 'err: unknown command', path: '/nosuchcommand' },
    { name: 'err: /pin (no Run)', path: '/pin' },
    { name: 'err: unknown subcommand pin/nosuch', path: '/pin/nosuch' },
    { name: 'err: cat malformed path', path: '/cat?arg=/ipfs/notacid' },
    { name: 'err: cat missing arg', path: '/cat' },
    { name: 'err: cat of a directory', path: `/cat?arg=${ctx.dir}` },
    { name: 'err: invalid encoding', path: '/version?encoding=foo' },
    { name: 'err: name/resolve bad name', path: '/name/resolve?arg=/ipns/notakey' },
    { name: 'err: id bad peer id', path: '/id?arg=notapeer' },
    {
      name: 'err: timeout=bogus',
      path: '/version?timeout=bogus',
      deliberate: { why: 'Kubo answers an empty 200 to an unparsable timeout (a quirk, kubo-rpc.md §1.1 step 7); the hub answers 400', whole: true },
    },

    // --- methods ---------------------------------------------------------------------------
    { name: 'method: GET version', method: 'GET', path: '/version' },
    { name: 'method: HEAD version', method: 'HEAD', path: '/version' },
    { name: 'method: GET pin/add', method: 'GET', path: `/pin/add?arg=${p[9]}` },
    { name: 'method: GET swarm/peers (passthrough)', method: 'GET', path: '/swarm/peers' },
    { name: 'method: PUT pin/ls', method: 'PUT', path: '/pin/ls' },
    { name: 'method: DELETE add', method: 'DELETE', path: '/add' },
    { name: 'method: OPTIONS version (no preflight)', method: 'OPTIONS', path: '/version' },
    { name: 'method: preflight from evil origin', method: 'OPTIONS', path: '/version', headers: { Origin: evil, [ACRM]: 'POST' } },
    { name: 'method: preflight from own origin', method: 'OPTIONS', path: '/pin/add', headers: self => ({ Origin: self, [ACRM]: 'POST' }) },
    { name: 'method: POST outside /api/v0', path: '/nothing-here', root: true },

    // --- CSRF ------------------------------------------------------------------------------
    { name: 'csrf: Origin evil, version', path: '/version', headers: { Origin: evil } },
    { name: 'csrf: Origin evil, pin/add', path: `/pin/add?arg=${p[9]}&recursive=false`, headers: { Origin: evil } },
    { name: 'csrf: Origin evil, add', path: '/add', headers: { Origin: evil }, multipart: [file('evil.txt', fresh('evil'))] },
    { name: 'csrf: Origin evil, passthrough key/list', path: '/key/list', headers: { Origin: evil } },
    { name: 'csrf: the evil pin/add changed nothing', path: `/pin/ls?arg=${p[9]}&type=direct` },
    { name: 'csrf: Origin = own API origin', path: '/version', headers: self => ({ Origin: self }), deliberate: { why: 'version numbers (see "version")', mask: ['Version', 'Commit', 'Golang'] } },
    { name: 'csrf: Origin = own API, localhost', path: `/pin/ls?arg=${p[6]}`, headers: self => ({ Origin: self.replace('127.0.0.1', 'localhost') }) },
    { name: 'csrf: Origin = ipfs-companion', path: `/pin/ls?arg=${p[6]}`, headers: { Origin: 'chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch' } },
    { name: 'csrf: Referer evil', path: `/pin/ls?arg=${p[6]}`, headers: { Referer: `${evil}/page.html` } },
    { name: 'csrf: Referer = own API origin', path: `/pin/ls?arg=${p[6]}`, headers: self => ({ Referer: `${self}/webui/` }) },
    { name: 'csrf: Referer unparsable', path: `/pin/ls?arg=${p[6]}`, headers: { Referer: 'http://%zz/' } },
    { name: 'csrf: UA Mozilla/5.0, no Origin', path: `/pin/ls?arg=${p[6]}`, headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64)' } },
    { name: 'csrf: UA Mozilla/5.0 Electron, no Origin', path: `/pin/ls?arg=${p[6]}`, headers: { 'User-Agent': 'Mozilla/5.0 Electron/30' } },
    { name: 'csrf: UA Mozilla/5.0, own Origin', path: `/pin/ls?arg=${p[6]}`, headers: self => ({ 'User-Agent': 'Mozilla/5.0', Origin: self }) },

    // --- passthrough and routed reads ------------------------------------------------------
    { name: 'id', path: '/id', deliberate: { why: 'the hub answers with its own identity, not a Kubo node\'s', mask: ['ID', 'PublicKey', 'Addresses', 'AgentVersion', 'Protocols'] } },
    { name: 'version', path: '/version', deliberate: { why: 'the hub reports its own (Kubo API) version and build', mask: ['Version', 'Commit', 'Golang'] } },
    { name: 'version: number=true', path: '/version?number=true', deliberate: { why: 'the hub reports its own (Kubo API) version and build', mask: ['Version', 'Commit', 'Golang'] } },
    { name: 'repo/version', path: '/repo/version' },
    { name: 'swarm/peers', path: '/swarm/peers', normalize: swarmPeers },
    { name: 'swarm/addrs/local', path: '/swarm/addrs/local' },
    { name: 'config Datastore.StorageMax', path: '/config?arg=Datastore.StorageMax' },
    { name: 'config Addresses.API', path: '/config?arg=Addresses.API' },
    { name: 'config/show (keys)', path: '/config/show', normalize: configShape },
    { name: 'block/stat', path: `/block/stat?arg=${ctx.r1}` },
    { name: 'block/get', path: `/block/get?arg=${ctx.r1}` },
    { name: 'dag/get', path: `/dag/get?arg=${ctx.r1}` },
    { name: 'dag/get: /ipfs/<dir>/a.txt', path: `/dag/get?arg=/ipfs/${ctx.dir}/a.txt` },
    { name: 'err: dag/get of a missing link', path: `/dag/get?arg=/ipfs/${ctx.dir}/Links/0/Hash` },
    { name: 'dag/export', path: `/dag/export?arg=${ctx.dir}` },
    { name: 'dag/stat', path: `/dag/stat?arg=${ctx.dir}&progress=false` },
    { name: 'refs', path: `/refs?arg=${ctx.dir}` },
    { name: 'refs: recursive', path: `/refs?arg=${ctx.dir}&recursive=true` },
    { name: 'refs/local (shape)', path: '/refs/local', normalize: gcShapes },
    { name: 'cat', path: `/cat?arg=${ctx.r1}` },
    { name: 'cat: /ipfs/<dir>/a.txt', path: `/cat?arg=/ipfs/${ctx.dir}/a.txt` },
    { name: 'cat: offset and length', path: `/cat?arg=${ctx.r1}&offset=3&length=5` },
    { name: 'cat: path form /cat/<cid>', path: `/cat/${ctx.r1}` },
    { name: 'ls', path: `/ls?arg=${ctx.dir}` },
    { name: 'get (tar)', path: `/get?arg=${ctx.dirSub}`, normalizeBytes: tarListing },
    { name: 'files/stat /ipfs/<cid>', path: `/files/stat?arg=/ipfs/${ctx.r1}` },
    { name: 'object/stat', path: `/object/stat?arg=${ctx.r1}` },
    { name: 'resolve', path: `/resolve?arg=/ipfs/${ctx.dir}/sub/b.txt` },
    { name: 'key/list', path: '/key/list' },
    { name: 'cid/format', path: `/cid/format?arg=${ctx.r1}&b=base32` },
    { name: 'name/resolve of own key (not published)', path: '/name/resolve?arg=self&offline=true' },

    // --- last: things that leave lasting state behind --------------------------------------
    { name: 'pin/add: missing block, timeout=2s', path: `/pin/add?arg=${missingCid()}&timeout=2s` },
    { name: 'cat: missing block, timeout=2s', path: `/cat?arg=${missingCid()}&timeout=2s` },
    { name: 'repo/gc (shape)', path: '/repo/gc', normalize: gcShapes },
    { name: 'pin/ls: after gc, still pinned', path: `/pin/ls?arg=${p[6]}&names=true` },
  ]
}

/** config/show: each daemon's ports, identity and paths differ; compared are the keys. */
function configShape (lines: Json[]): Json[] {
  const keys = (v: Json, depth: number): Json => isObj(v) && depth < 2 ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, keys(x, depth + 1)])) : '<value>'
  return lines.map(l => keys(l, 0))
}

/** A CIDv1 raw CID of 32 random bytes' digest: nobody has this block. */
function missingCid (): string {
  // base32 of 0x01 0x55 0x12 0x20 + 32 bytes, written out without a multiformats import.
  const bytes = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), randomBytes(32)])
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = 0
  let value = 0
  let out = 'b'
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}
