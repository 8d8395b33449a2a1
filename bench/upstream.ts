/**
 * @module bench/upstream
 * A fast fake member for the benchmarks: plain `node:http`, no framework, so that what
 * the hub adds is what gets measured. Runs as its own process (several listening ports in
 * one process, to save cores) and prints `ready <port>,<port>,...` once every port listens.
 *
 *   node dist/bench/upstream.js --port P | --ports P0,P1,... [--delay-ms D]
 *                               [--throttle-bytes-per-sec B]
 *
 * Port 0 picks a free port; the printed line carries the real ones. It binds 127.0.0.1 only.
 * Answers (all `Content-Type: application/json`, chunked, after `--delay-ms`):
 * - `version` → a small Kubo version object;
 * - `repo/stat` → fixed sizes (`size-only` or not);
 * - `pin/add?arg=X` → `{"Pins":["X"]}`;
 * - `add` → the whole body is read and discarded (counted; read no faster than
 *   `--throttle-bytes-per-sec` when given), then one NDJSON line that is the same on every
 *   member, so a hub comparing the members' CIDs accepts it;
 * - any other `/api/v0/` command → `{"Strings":[]}`.
 * `POST /_bench/stats` (outside the Kubo API) returns this port's counters, so the bench can
 * check that a tee reached every member and that background pins finished.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'

const ADD_LINE = '{"Name":"f","Hash":"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o","Size":"20"}\n'
const VERSION = '{"Version":"0.44.0","Commit":"bench","Repo":"18","System":"amd64/linux","Golang":"go1.24"}\n'
const REPO_STAT_SIZE = '{"RepoSize":1000000,"StorageMax":10000000000,"NumObjects":0,"RepoPath":"","Version":""}\n'
const REPO_STAT = '{"RepoSize":1000000,"StorageMax":10000000000,"NumObjects":42,"RepoPath":"/bench/repo","Version":"fs-repo@18"}\n'
const STRINGS = '{"Strings":[]}\n'
const HEADERS = { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', Vary: 'Origin' }

interface Stats {
  requests: number
  pins: number
  adds: number
  addBytes: number
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    ports: { type: 'string' },
    'delay-ms': { type: 'string', default: '0' },
    'throttle-bytes-per-sec': { type: 'string', default: '0' },
  },
  strict: true,
})

const ports = (values.ports ?? values.port ?? '0').split(',').map(s => Number(s.trim()))
const delayMs = Number(values['delay-ms'])
const throttle = Number(values['throttle-bytes-per-sec'])
if (ports.some(p => !Number.isInteger(p) || p < 0 || p > 65535) || !(delayMs >= 0) || !(throttle >= 0)) {
  process.stderr.write('usage: upstream --port P | --ports P0,P1 [--delay-ms D] [--throttle-bytes-per-sec B]\n')
  process.exit(2)
}

function send (res: ServerResponse, body: string, status = 200): void {
  const write = (): void => {
    if (res.destroyed) return
    res.writeHead(status, HEADERS)
    res.end(body)
  }
  if (delayMs > 0) setTimeout(write, delayMs)
  else write()
}

/** Read and count the whole body, no faster than `throttle` bytes/s when set. */
function drain (req: IncomingMessage, onEnd: (bytes: number) => void): void {
  let bytes = 0
  const t0 = performance.now()
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (throttle > 0) {
      const aheadMs = (bytes / throttle) * 1000 - (performance.now() - t0)
      if (aheadMs > 1) {
        req.pause()
        setTimeout(() => { req.resume() }, aheadMs)
      }
    }
  })
  req.on('end', () => { onEnd(bytes) })
  req.on('error', () => { /* client went away */ })
}

function handler (stats: Stats) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests++
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (path === '/_bench/stats') {
      req.resume()
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(stats) + '\n')
      return
    }
    if (!path.startsWith('/api/v0/')) {
      req.resume()
      res.writeHead(404, { 'Content-Type': 'text/plain' })
      res.end('404 page not found\n')
      return
    }
    if (req.method !== 'POST') {
      req.resume()
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'POST' })
      res.end('405 - Method Not Allowed\n')
      return
    }
    const command = path.slice('/api/v0/'.length)
    switch (command) {
      case 'add':
        stats.adds++
        drain(req, (bytes) => {
          stats.addBytes += bytes
          send(res, ADD_LINE)
        })
        return
      case 'version':
        req.resume()
        send(res, VERSION)
        return
      case 'repo/stat': {
        req.resume()
        const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
        const flag = params.get('size-only') ?? params.get('s')
        const sizeOnly = flag !== null && flag !== 'false' && flag !== '0'
        send(res, sizeOnly ? REPO_STAT_SIZE : REPO_STAT)
        return
      }
      case 'pin/add': {
        req.resume()
        const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
        const args = params.getAll('arg')
        stats.pins += args.length
        send(res, JSON.stringify({ Pins: args }) + '\n')
        return
      }
      default:
        req.resume()
        send(res, STRINGS)
    }
  }
}

async function listen (port: number): Promise<number> {
  const stats: Stats = { requests: 0, pins: 0, adds: 0, addBytes: 0 }
  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 }, handler(stats))
  return await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', 4096, () => { resolve((server.address() as AddressInfo).port) })
  })
}

const bound = await Promise.all(ports.map(listen))
process.stdout.write(`ready ${bound.join(',')}\n`)
process.on('SIGTERM', () => { process.exit(0) })
process.on('SIGINT', () => { process.exit(0) })
