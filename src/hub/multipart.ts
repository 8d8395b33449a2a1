/**
 * @module hub/multipart
 * Wraps a byte stream as a one-file multipart/form-data body, streamed, for member
 * commands that take a file argument (`dag/import`, `block/put`).
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'

export function multipartFile (content: AsyncIterable<Uint8Array>, filename: string): { stream: Readable, contentType: string } {
  const boundary = `supercluster-${randomBytes(12).toString('hex')}`
  async function * parts (): AsyncGenerator<Uint8Array> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`)
    yield * content
    yield Buffer.from(`\r\n--${boundary}--\r\n`)
  }
  return { stream: Readable.from(parts(), { objectMode: false }), contentType: `multipart/form-data; boundary=${boundary}` }
}
