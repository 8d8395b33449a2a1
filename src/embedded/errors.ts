/**
 * @module embedded/errors
 * Errors raised by the embedded node. They extend the hub's {@link CommandError} so the
 * Kubo RPC layer renders them as Kubo's JSON error; their messages are Kubo's exact
 * wording, because clients (kubo-rpc-client, the Go CLI, cluster connectors) match on it.
 */
import { CommandError } from '../errors.js'

/** A block is not in the local store. The embedded node is offline, so this is final. */
export class BlockNotFoundError extends CommandError {
  static override readonly name = 'BlockNotFoundError'
  override name = 'BlockNotFoundError'
  override readonly code = 'HUB_ERR_BLOCK_NOT_FOUND'
  /** The missing CID as Kubo prints it (v0 base58btc, v1 base32). */
  readonly cid: string
  constructor (cid: { toString(): string }) {
    super(`ipld: could not find ${cid.toString()}`)
    this.cid = cid.toString()
  }
}

/** An option or codec that Kubo knows but this small node does not implement. */
export class UnsupportedError extends CommandError {
  static override readonly name = 'UnsupportedError'
  override name = 'UnsupportedError'
  override readonly code = 'HUB_ERR_UNSUPPORTED'
}

/** The node was used after `close()`. */
export class NodeClosedError extends CommandError {
  static override readonly name = 'NodeClosedError'
  override name = 'NodeClosedError'
  override readonly code = 'HUB_ERR_NODE_CLOSED'
  constructor () { super('embedded node is closed') }
}
