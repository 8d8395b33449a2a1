/**
 * @module embedded/server
 * Serves one EmbeddedNode's Kubo RPC on a loopback socket, either inside the daemon (for
 * members the topology declares as embedded) or as its own process (`supercluster member`).
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { createKuboApp } from '../kubo/transport.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { EmbeddedNode } from './node.js'
import { embeddedCommands } from './routes.js'

export interface RunningEmbedded {
  url: string
  port: number
  node: EmbeddedNode
  close: () => Promise<void>
}

export async function startEmbeddedServer (opts: { host: string, port: number, repo: string, log: Logger }): Promise<RunningEmbedded> {
  const node = await EmbeddedNode.open(opts.repo)
  const shutdown = new AbortController()
  let boundPort = 0
  const app = createKuboApp({
    commands: embeddedCommands(node),
    apiPort: () => boundPort,
    shutdownSignal: shutdown.signal,
    onError: (err, command) => { opts.log.debug({ command, err: errorMessage(err) }, 'embedded command failed') },
  })
  let server: Server
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port, autoCleanupIncoming: false, serverOptions: { requestTimeout: 0 } }, (info: AddressInfo) => {
        boundPort = info.port
        resolve(s as Server)
      }) as Server
      s.once('error', reject)
    })
  } catch (err) {
    await node.close()
    throw err
  }
  const url = `http://${opts.host}:${boundPort}`
  opts.log.info({ url, repo: opts.repo }, 'embedded member listening')
  let closing: Promise<void> | undefined
  return {
    url,
    port: boundPort,
    node,
    close: async () => {
      closing ??= (async () => {
        const stopped = new Promise<void>(resolve => { server.close(() => { resolve() }) })
        server.closeIdleConnections()
        await Promise.race([stopped, new Promise(resolve => setTimeout(resolve, 5_000).unref())])
        shutdown.abort(new Error('embedded node shutting down'))
        server.closeAllConnections()
        await node.close()
      })()
      await closing
    },
  }
}
