/**
 * @module hub/auth
 * hub.auth on the hub's listener. A middleware in front of every route authenticates
 * the request (401 with a `WWW-Authenticate` challenge, in Kubo's error JSON) and checks
 * the role of paths outside `/api/v0/`; the Kubo transport calls `authorize` with the
 * command it resolved, so the role check sees exactly what would run (403). Credentials
 * only ever come from the `Authorization` header: a token in the query string is not one.
 * Without credentials the hub serves loopback only, unless the daemon runs `--insecure`.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { AccessDeniedError, UnauthorizedError } from '../errors.js'
import { errorResponse } from '../kubo/respond.js'
import { API_PREFIX } from '../kubo/transport.js'
import { Authenticator, type Principal } from '../auth/credentials.js'
import { covers, roleFor, roleForHubPath } from '../auth/roles.js'
import { parseHostPort, type Role, type Topology } from '../topology/index.js'

export interface HubAuth {
  /** Runs first on the hub's app; answers 401/403 itself. Absent without credentials. */
  middleware?: MiddlewareHandler
  /** For the Kubo transport: refuses a command the request's role does not cover. */
  authorize?: (c: Context, command: string) => void
}

/** The authentication of a hub whose topology lists `credentials` (none: everything passes). */
export function createHubAuth (auth: Authenticator): HubAuth {
  const principals = new WeakMap<Request, Principal>()
  const demand = (principal: Principal | undefined, needed: Role, what: string): void => {
    if (principal === undefined) throw new UnauthorizedError()
    if (!covers(principal.role, needed)) {
      throw new AccessDeniedError(`credential "${principal.name}" has role ${principal.role}; ${what} needs role ${needed} (hub.auth)`)
    }
  }
  if (!auth.enabled) return {}
  return {
    middleware: async function authenticate (c, next) {
      // A CORS preflight carries no credentials by design and runs nothing.
      if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) { await next(); return }
      const principal = await auth.authenticate(c.req.header('authorization'))
      if (principal === undefined) {
        return errorResponse(new UnauthorizedError(c.req.header('authorization') === undefined ? undefined : 'credentials not accepted (hub.auth)'), { command: false })
      }
      principals.set(c.req.raw, principal)
      const path = safeDecode(new URL(c.req.url).pathname)
      // Kubo RPC paths are checked by command in the transport; everything else here.
      if (!path.startsWith(API_PREFIX)) {
        try {
          demand(principal, roleForHubPath(path), path)
        } catch (err) {
          return errorResponse(err, { command: false })
        }
      }
      await next()
    },
    authorize: (c, command) => { demand(principals.get(c.req.raw), roleFor(command), command) },
  }
}

function safeDecode (path: string): string {
  try { return decodeURIComponent(path) } catch { return path }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i

/** Whether a listen host accepts connections from loopback only. */
function isLoopback (host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''))
}

/**
 * Why a hub must not start as configured, or undefined: a Kubo RPC API without hub.auth
 * on an address other hosts can reach, unless the operator said `--insecure`.
 */
export function insecureListenProblem (topology: Topology, insecure: boolean): string | undefined {
  if (insecure || (topology.hub.auth?.length ?? 0) > 0) return undefined
  const { host } = parseHostPort(topology.hub.listen)
  if (isLoopback(host)) return undefined
  return `hub.listen ${topology.hub.listen} is not a loopback address and hub.auth lists no credentials: ` +
    'anyone who can reach it could pin, unpin and run admin commands. Add hub.auth credentials, listen on 127.0.0.1, ' +
    'or start with --insecure if something in front of the hub authenticates'
}
