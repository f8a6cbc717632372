/**
 * Atomic file writes: a temporary file in the target's folder, flushed to disk, then renamed over the target, so a
 * crash leaves either the old file or the complete new one — never a half-written file.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { TillerError } from '../errors.ts'

/** Write `chunks` in order to `path` atomically. Errors name the path; no temporary file is left behind. */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const temporaryPath = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`)
  try {
    const handle = await open(temporaryPath, 'w')
    try {
      for (const chunk of chunks) {
        let written = 0
        while (written < chunk.length) {
          written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten
        }
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporaryPath, path)
  } catch (error) {
    await rm(temporaryPath, { force: true })
    throw new TillerError('invalid-argument', `Cannot write ${path}: ${(error as Error).message}`, {
      subject: path,
      cause: error,
    })
  }
}
