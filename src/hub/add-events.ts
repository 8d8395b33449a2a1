/**
 * @module hub/add-events
 * A cluster proxy's `add` events put in Kubo's shape (kubo-rpc.md §2.3), so a client of
 * the hub sees what Kubo would send whichever kind of member did the import, and the
 * members' answers can be compared line by line. The proxy's own adder (a trimmed copy of
 * Kubo's) differs in three ways: its progress events carry no Name where Kubo names the
 * file being read; an unnamed part's result has Name "" where Kubo names it by its CID;
 * and it leaves out a Size of "0" (an empty raw leaf), which Kubo always writes.
 *
 * The names come from the upload itself: the hub reads the part headers of the body it
 * tees to the members (`UploadParts`, with the same multipart reader the embedded node
 * uses), and matches each proxy's events to the parts in order, since a file's progress
 * events come before its result and files are answered in the order of their parts.
 */
import { PassThrough } from 'node:stream'
import { multipartEntries } from '../kubo/multipart.js'

export interface AddEvent {
  Name: string
  Hash?: string
  Bytes?: number
  Size?: string
}

/**
 * The paths of the file and symlink parts of an upload, in order, as the hub passes the
 * body on. `sink` is written like a member's stream (with backpressure); a body the
 * reader cannot parse stops the tracking (the members report the error themselves), and
 * the sink then discards what it is given.
 */
export class UploadParts {
  readonly leaves: string[] = []
  readonly sink = new PassThrough({ highWaterMark: 256 * 1024 })

  constructor (contentType: string, signal: AbortSignal) {
    void this.read(contentType, signal)
  }

  private async read (contentType: string, signal: AbortSignal): Promise<void> {
    try {
      for await (const entry of multipartEntries(this.sink, contentType, signal, { allowEmpty: true })) {
        if (entry.kind !== 'dir') this.leaves.push(entry.path)
        for await (const _ of entry.content ?? []) { /* only the headers matter */ }
      }
    } catch {
      // not followed any further
    }
    this.sink.resume()
  }
}

/** One cluster-proxy member's events, renamed as Kubo names them; one per member of an add. */
export class KuboAddNames {
  /** Index in `parts.leaves` of the file this member is reading now. */
  private at = 0

  constructor (private readonly parts: UploadParts) {}

  fix (ev: AddEvent): AddEvent {
    const expected = this.parts.leaves[this.at] as string | undefined
    if (ev.Hash === undefined) {
      // Progress of the file being read; an unnamed part's progress is "" in Kubo too.
      return expected === undefined ? ev : { ...ev, Name: expected }
    }
    let name = ev.Name
    if (expected !== undefined && (ev.Name === expected || (expected === '' && (ev.Name === '' || ev.Name === ev.Hash)))) {
      // This part's result (directories come after their files and match no part).
      this.at++
      if (expected === '') name = ev.Hash
    }
    return { Name: name, Hash: ev.Hash, ...(ev.Bytes !== undefined ? { Bytes: ev.Bytes } : {}), Size: ev.Size ?? '0' }
  }
}
