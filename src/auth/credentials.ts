/**
 * @module auth/credentials
 * Who is asking: an `Authorization` header (`Bearer <token>`, `Basic <base64 user:pass>`,
 * as the Go CLI's `--api-auth bearer:…`/`basic:user:pass` and kubo-rpc-client's `headers`
 * send them) checked against hub.auth. Secrets are kept as SHA-256 digests (plaintext
 * from the environment is hashed at start) or scrypt keys, and compared with
 * `timingSafeEqual` on fixed-length values, every credential each time. scrypt is slow
 * on purpose: one derivation runs at a time, and a verified header is remembered by its
 * digest so a client pays for it once.
 */
import { createHash, scrypt as scryptCb, timingSafeEqual, randomBytes, type BinaryLike } from 'node:crypto'
import type { CredentialSpec, Role } from '../topology/index.js'

export interface Principal {
  /** The credential's label (never its secret). */
  name: string
  role: Role
}

/** scrypt cost parameters of `scrypt:` secrets (N = 2^14, r = 8, p = 1: ~16 MiB, tens of ms). */
const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

interface Entry {
  principal: Principal
  scheme: 'bearer' | 'basic'
  /** SHA-256 of the user name (basic). */
  user?: Buffer
  /** SHA-256 of the secret, for sha256 and plaintext secrets. */
  digest?: Buffer
  scrypt?: { salt: Buffer, key: Buffer }
}

const sha256 = (s: BinaryLike): Buffer => createHash('sha256').update(s).digest()

async function scrypt (password: string, salt: Buffer, length: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    scryptCb(password, salt, length, SCRYPT_PARAMS, (err, key) => { if (err !== null) reject(err); else resolve(key) })
  })
}

/** What `supercluster auth hash` prints for a secret: `sha256:<hex>`, or `scrypt:<salt>:<key>`. */
export async function hashSecret (secret: string, kind: 'sha256' | 'scrypt' = 'sha256'): Promise<string> {
  if (kind === 'sha256') return `sha256:${sha256(secret).toString('hex')}`
  const salt = randomBytes(16)
  return `scrypt:${salt.toString('hex')}:${(await scrypt(secret, salt, 32)).toString('hex')}`
}

/** The header a credential's owner sends: the value of `Authorization`. */
function parseHeader (header: string): { scheme: 'bearer', token: string } | { scheme: 'basic', user: string, password: string } | undefined {
  const m = /^(Bearer|Basic)[ \t]+(\S+)[ \t]*$/i.exec(header)
  if (m === null) return undefined
  if (m[1].toLowerCase() === 'bearer') return { scheme: 'bearer', token: m[2] }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(m[2])) return undefined
  const decoded = Buffer.from(m[2], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

export class Authenticator {
  private readonly entries: Entry[]
  /** Headers verified through scrypt, by their SHA-256 (bounded). */
  private readonly verified = new Map<string, Principal>()
  private scryptTurn: Promise<unknown> = Promise.resolve()

  constructor (credentials: readonly CredentialSpec[] = []) {
    this.entries = credentials.map(c => {
      const entry: Entry = { principal: { name: c.name, role: c.role }, scheme: c.scheme }
      if (c.user !== undefined) entry.user = sha256(c.user)
      if (c.secret.startsWith('sha256:') && /^sha256:[0-9a-fA-F]{64}$/.test(c.secret)) {
        entry.digest = Buffer.from(c.secret.slice(7), 'hex')
      } else if (/^scrypt:[0-9a-fA-F]+:[0-9a-fA-F]+$/.test(c.secret)) {
        const [, salt, key] = c.secret.split(':')
        entry.scrypt = { salt: Buffer.from(salt, 'hex'), key: Buffer.from(key, 'hex') }
      } else {
        entry.digest = sha256(c.secret)
      }
      return entry
    })
  }

  /** Whether any credential is configured (else every request is let through). */
  get enabled (): boolean { return this.entries.length > 0 }

  /** The principal an `Authorization` header proves, or undefined. */
  async authenticate (header: string | undefined): Promise<Principal | undefined> {
    if (header === undefined || header === '' || header.length > 4096) return undefined
    const parsed = parseHeader(header)
    if (parsed === undefined) return undefined
    const secretDigest = sha256(parsed.scheme === 'bearer' ? parsed.token : parsed.password)
    const userDigest = parsed.scheme === 'basic' ? sha256(parsed.user) : undefined
    let found: Principal | undefined
    const slow: Entry[] = []
    // Every entry is compared, whatever matched first: the time taken does not say which.
    for (const e of this.entries) {
      if (e.scheme !== parsed.scheme) continue
      const userOk = userDigest === undefined || (e.user !== undefined && timingSafeEqual(e.user, userDigest))
      if (e.digest !== undefined) {
        if (timingSafeEqual(e.digest, secretDigest) && userOk && found === undefined) found = e.principal
      } else if (userOk) {
        slow.push(e)
      }
    }
    if (found !== undefined || slow.length === 0 || parsed.scheme !== 'basic') return found
    return await this.viaScrypt(header, parsed.password, slow)
  }

  private async viaScrypt (header: string, password: string, candidates: Entry[]): Promise<Principal | undefined> {
    const key = sha256(header).toString('hex')
    const known = this.verified.get(key)
    if (known !== undefined) return known
    const run = this.scryptTurn.then(async () => {
      for (const e of candidates) {
        const s = e.scrypt!
        const derived = await scrypt(password, s.salt, s.key.length)
        if (timingSafeEqual(derived, s.key)) return e.principal
      }
      return undefined
    })
    this.scryptTurn = run.catch(() => undefined)
    const principal = await run
    if (principal !== undefined) {
      if (this.verified.size >= 1024) this.verified.delete(this.verified.keys().next().value as string)
      this.verified.set(key, principal)
    }
    return principal
  }
}
