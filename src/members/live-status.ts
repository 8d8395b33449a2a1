/**
 * @module members/live-status
 * What a member really has for one pin, asked live. A cluster proxy accepts a pin as soon
 * as the cluster committed it ("pinned" upstream only means "accepted downstream"), so for
 * a cluster-proxy member with `rest_api` the answer comes from the cluster's REST API
 * (`GET /pins/{cid}`: every peer's tracker status) and is only `pinned` when every peer
 * that was allocated the pin has it. Other members answer `pin/ls?arg=<cid>`.
 */
import { request } from 'undici'
import type { MemberClient } from './client.js'
import { errorMessage } from '../errors.js'
import type { RequestScope } from '../request-context.js'

export type LiveStatus = 'pinned' | 'pinning' | 'queued' | 'unpinned' | 'unpinning' | 'error' | 'unreachable'

export interface LiveAnswer {
  status: LiveStatus
  /** Per cluster peer (cluster-proxy with REST API): peer name → tracker status. */
  peers?: Record<string, string>
  error?: string
  /** Where the answer came from: 'cluster-rest' or 'pin/ls'. */
  source: 'cluster-rest' | 'pin/ls'
}

interface GlobalPinInfo {
  peer_map?: Record<string, { peername?: string, status?: string, error?: string }>
}

/** Collapse a cluster's per-peer tracker statuses into one member status. */
function summariseCluster (statuses: string[]): LiveStatus {
  const relevant = statuses.filter(s => s !== 'remote' && s !== 'sharded')
  if (relevant.length === 0) return 'unpinned'
  if (relevant.some(s => s === 'pin_error' || s === 'cluster_error' || s === 'unexpectedly_unpinned' || s === 'unpin_error' || s === 'undefined')) return 'error'
  if (relevant.every(s => s === 'pinned')) return 'pinned'
  if (relevant.every(s => s === 'unpinned')) return 'unpinned'
  if (relevant.some(s => s === 'unpinning' || s === 'unpin_queued')) return 'unpinning'
  if (relevant.some(s => s === 'pinning')) return 'pinning'
  return 'queued'
}

export async function liveStatus (m: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<LiveAnswer> {
  if (m.kind === 'cluster-proxy' && m.spec.restApi !== undefined) return await clusterStatus(m, cid, signal)
  try {
    const res = await m.small('pin/ls', { args: [cid], query: { type: 'all' }, signal, scope })
    if (res.status === 200) return { status: 'pinned', source: 'pin/ls' }
    const text = res.text
    if (/not pinned|is not part of the pinset/.test(text)) return { status: 'unpinned', source: 'pin/ls' }
    return { status: 'error', error: m.answerError(res, text).message, source: 'pin/ls' }
  } catch (err) {
    return { status: 'unreachable', error: errorMessage(err), source: 'pin/ls' }
  }
}

async function clusterStatus (m: MemberClient, cid: string, signal: AbortSignal): Promise<LiveAnswer> {
  const url = new URL(`pins/${encodeURIComponent(cid)}`, m.spec.restApi!.replace(/\/?$/, '/'))
  try {
    const res = await request(url, { method: 'GET', headers: m.headers, dispatcher: m.dispatcher, signal, headersTimeout: m.spec.timeoutMs, bodyTimeout: m.spec.timeoutMs })
    const text = await res.body.text()
    if (res.statusCode === 404) return { status: 'unpinned', source: 'cluster-rest' }
    if (res.statusCode >= 400) return { status: 'error', error: `cluster REST API answered ${res.statusCode}: ${text.slice(0, 200)}`, source: 'cluster-rest' }
    const info = JSON.parse(text) as GlobalPinInfo
    const peers: Record<string, string> = {}
    for (const [id, p] of Object.entries(info.peer_map ?? {})) peers[p.peername ?? id] = p.status ?? 'undefined'
    const errors = Object.values(info.peer_map ?? {}).map(p => p.error).filter(e => e !== undefined && e !== '')
    const status = summariseCluster(Object.values(peers))
    return { status, peers, ...(errors.length > 0 ? { error: errors.join('; ') } : {}), source: 'cluster-rest' }
  } catch (err) {
    return { status: 'unreachable', error: errorMessage(err), source: 'cluster-rest' }
  }
}
