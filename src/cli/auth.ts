/**
 * @module cli/auth
 * Credentials from the command line's side: `supercluster auth hash` turns a secret read
 * from stdin into the `sha256:`/`scrypt:` form hub.auth accepts, so plaintext never has
 * to sit in a topology file; `apiAuthHeaders` gives the CLI's own calls to a hub
 * (`status`, `pins`) the credential in `SUPERCLUSTER_API_AUTH`, written as the Go CLI's
 * `--api-auth` is (`bearer:<token>` or `basic:<user>:<password>`).
 */
import type { Command } from 'commander'
import { request, type Dispatcher } from 'undici'
import { hashSecret } from '../auth/credentials.js'

export function registerAuthCommands (program: Command): void {
  const auth = program.command('auth').description('credentials for hub.auth')
  auth.command('hash')
    .description('read a token or password on stdin, print the form to put in hub.auth (sha256:<hex>, or scrypt with --scrypt)')
    .option('--scrypt', 'a slow scrypt hash: for passwords people choose (tokens from a generator are fine with sha256)')
    .action(async (opts: { scrypt?: boolean }) => {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
      if (secret === '') throw new Error('no secret on stdin')
      process.stdout.write(`${await hashSecret(secret, opts.scrypt === true ? 'scrypt' : 'sha256')}\n`)
    })
}

/**
 * One call from the CLI to a hub's admin API, with the credential of `apiAuthHeaders`.
 * An answer whose status is not in `ok` (200 alone by default) is an error that says it.
 */
export async function hubRequest (api: string, path: string, init: { method?: 'GET' | 'POST', ok?: number[] } = {}): Promise<Dispatcher.ResponseData> {
  const res = await request(new URL(path, api), { method: init.method ?? 'GET', headers: apiAuthHeaders() })
  if (!(init.ok ?? [200]).includes(res.statusCode)) throw new Error(`hub answered ${res.statusCode}: ${await res.body.text()}`)
  return res
}

/** The `Authorization` header for the CLI's calls to a hub, from SUPERCLUSTER_API_AUTH. */
export function apiAuthHeaders (env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const v = env.SUPERCLUSTER_API_AUTH ?? ''
  if (v === '') return {}
  if (v.startsWith('basic:')) return { authorization: `Basic ${Buffer.from(v.slice(6)).toString('base64')}` }
  return { authorization: `Bearer ${v.startsWith('bearer:') ? v.slice(7) : v}` }
}
