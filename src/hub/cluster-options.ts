/**
 * @module hub/cluster-options
 * The IPFS Cluster-style options the real proxy accepts on `add` and pins
 * (`replication-min`, `replication-max`, `replication`, `name`, `meta-*`). At the hub they
 * steer placement; they are not forwarded to members, whose own replication is theirs.
 */
import { InvalidArgumentError } from '../errors.js'
import { parseGoInt } from '../kubo/options.js'
import type { Replication } from '../topology/index.js'

export const HUB_ONLY_OPTIONS = new Set(['replication-min', 'replication-max', 'replication'])

export interface ClusterOptions {
  replication?: Partial<Replication>
  name?: string
  metadata: Record<string, string>
}

export function clusterOptions (q: URLSearchParams): ClusterOptions {
  const int = (key: string): number | undefined => {
    const raw = q.get(key)
    if (raw === null) return undefined
    const n = parseGoInt(raw)
    if (n === undefined || n < 1) {
      throw new InvalidArgumentError(`bad replication factors: ${key}=${raw} (a positive integer is required)`, { client: true })
    }
    return n
  }
  const both = int('replication')
  const min = int('replication-min') ?? both
  const max = int('replication-max') ?? both
  if (min !== undefined && max !== undefined && min > max) {
    throw new InvalidArgumentError(`bad replication factors: replication-min ${min} is above replication-max ${max}`, { client: true })
  }
  const metadata: Record<string, string> = {}
  for (const [k, v] of q) if (k.startsWith('meta-') && k.length > 5) metadata[k.slice(5)] = v
  const replication = min === undefined && max === undefined ? undefined : { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }
  return { replication, name: q.get('name') ?? undefined, metadata }
}
