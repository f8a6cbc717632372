/** Content hashes of files on disk, for fingerprints and cache keys. */
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, openSync, readSync } from 'node:fs'

/** Bytes read at a time by the synchronous hash. */
const chunkBytes = 8 << 20

/** sha256 (hex) of a file, streamed so multi-gigabyte weights never sit in memory. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * `hashFile` without yielding: for the rare checks that must answer synchronously. It blocks the thread for as
 * long as reading the file takes, so prefer `hashFile` everywhere else.
 */
export function hashFileSync(path: string): string {
  const hash = createHash('sha256')
  const buffer = Buffer.allocUnsafe(chunkBytes)
  const descriptor = openSync(path, 'r')
  try {
    for (;;) {
      const count = readSync(descriptor, buffer, 0, chunkBytes, null)
      if (count === 0) break
      hash.update(buffer.subarray(0, count))
    }
  } finally {
    closeSync(descriptor)
  }
  return hash.digest('hex')
}
