/**
 * @module bench/floor-proxy
 * The thinnest forwarder Node can run: `node:http` in, one undici Pool out, bodies piped
 * both ways, no checks, no metrics, no state. What it costs per request on this machine is
 * the floor under any hub written in Node, so the bench prints the hub beside it: the
 * §9 CPU goals were set from a prototype on another VM, and a machine whose wake-ups are
 * dear can put the floor itself above them.
 *
 *   node dist/bench/floor-proxy.js --upstream http://127.0.0.1:P
 *
 * Listens on a free port of 127.0.0.1 and prints `ready <port>`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'

const { values } = parseArgs({ options: { upstream: { type: 'string' } } })
if (values.upstream === undefined) {
  process.stderr.write('usage: floor-proxy --upstream URL\n')
  process.exit(2)
}
const pool = new Pool(values.upstream, { connections: 256, pipelining: 1 })

const server = createServer((req, res) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
  pool.request({ path: req.url ?? '/', method: 'POST', body: hasBody ? req : null, headers: { 'content-type': req.headers['content-type'] } })
    .then(async (up) => {
      res.writeHead(up.statusCode, { 'Content-Type': String(up.headers['content-type'] ?? 'application/json') })
      await pipeline(up.body, res)
    })
    .catch(() => { if (!res.headersSent) res.writeHead(502); res.end() })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`)
})
process.on('SIGTERM', () => { server.close(); void pool.close(); process.exit(0) })
