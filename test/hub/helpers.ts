/**
 * @module test/hub/helpers
 * Builds a hub in-process in front of kubo-mock members, for route tests through
 * `app.request()` (no listening socket for the hub; real sockets to the members).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hono } from 'hono'
import { startKuboMock, type KuboMock, type KuboMockOptions } from '../fixtures/kubo-mock.js'
import { parseTopology } from '../../src/topology/index.js'
import { createHubComponents } from '../../src/hub/start.js'
import { createHubApp } from '../../src/hub/app.js'
import type { HubComponents } from '../../src/hub/components.js'
import type { ReloadFactory } from '../../src/hub/reload.js'
import { silentLogger } from '../../src/log.js'

export interface TestHub {
  app: Hono
  h: HubComponents
  /** What `hub/start` hands `applyTopology`. */
  factory: ReloadFactory
  /** The topology's YAML, for edits. */
  yaml: string
  mocks: KuboMock[]
  dir: string
  post: (path: string, init?: RequestInit) => Promise<Response>
  close: () => Promise<void>
}

export async function testHub (opts: {
  members?: number
  mock?: KuboMockOptions | ((i: number) => KuboMockOptions)
  replication?: { min: number, max: number }
  extraYaml?: string
  timeout?: string
  /** Every member's kind, or member i's. */
  kind?: string | ((i: number) => string)
  maxDepth?: number
  /** More keys of the hub mapping, each line indented by two spaces (`  auth: [...]`). */
  hubYaml?: string
  /** Each member's URLs (default: member i is mock i alone), e.g. a sub-cluster's peers. */
  memberUrls?: (mocks: KuboMock[]) => string[][]
} = {}): Promise<TestHub> {
  const n = opts.members ?? 3
  const mocks = await Promise.all(Array.from({ length: n }, async (_, i) =>
    await startKuboMock({ name: `m${i}`, ...(typeof opts.mock === 'function' ? opts.mock(i) : opts.mock) })))
  const dir = await mkdtemp(join(tmpdir(), 'sc-hub-'))
  const r = opts.replication ?? { min: 1, max: 2 }
  const yaml = `version: 1
hub:
  id: test-hub
  listen: 127.0.0.1:5001
  state: ${dir}
${opts.maxDepth !== undefined ? `  max_depth: ${opts.maxDepth}\n` : ''}${opts.hubYaml ?? ''}
defaults:
  replication: { min: ${r.min}, max: ${r.max} }
  timeout: ${opts.timeout ?? '10s'}
  health: { interval: 1h, timeout: 2s, failures: 1 }
members:
${(opts.memberUrls?.(mocks) ?? mocks.map(m => [m.url])).map((urls, i) => `  - name: m${i}\n    kind: ${(typeof opts.kind === 'function' ? opts.kind(i) : opts.kind) ?? 'kubo'}\n    urls: [${urls.join(', ')}]\n`).join('')}
passthrough: m0
${opts.extraYaml ?? ''}`
  const topology = parseTopology(yaml, 'test.yaml')
  const { components, factory, dispose } = await createHubComponents(topology, { log: silentLogger() })
  const app = createHubApp(components, { apiPort: () => 5001 })
  return {
    app,
    h: components,
    factory,
    yaml,
    mocks,
    dir,
    post: async (path, init = {}) => await app.request(path, { method: 'POST', ...init }),
    close: async () => {
      await dispose()
      await Promise.all(mocks.map(async m => { await m.close() }))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A multipart body with one file part, as kubo-rpc-client sends it. */
export function multipart (files: Array<{ name: string, content: string | Uint8Array, type?: string }>): { body: Uint8Array, contentType: string } {
  const boundary = '----supercluster-test-boundary'
  const parts: Buffer[] = []
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(f.name)}"\r\nContent-Type: ${f.type ?? 'application/octet-stream'}\r\n\r\n`))
    parts.push(Buffer.from(f.content))
    parts.push(Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}

export function lines (text: string): unknown[] {
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as unknown)
}
