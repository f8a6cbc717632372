/** Content hashes of files on disk, for fingerprints and cache keys. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/** sha256 (hex) of a file, streamed so multi-gigabyte weights never sit in memory. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
