/**
 * Atomic writes (DESIGN.md §6): a file is assembled under a hidden temporary name beside its target,
 * flushed to disk, then renamed over the target, so a crash at any moment leaves either the old content or the
 * complete new one, never a half-written file (whole folders: `folder-swap.ts`). The temporary sits in the target's folder because a rename is only
 * atomic within one file system.
 *
 * Failures are rethrown as they came (after the temporary is removed); callers that face a user wrap them in a
 * TillerError that says what to do for their file.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** What `writeFileAtomic` writes: text (UTF-8), bytes, or byte chunks in order. */
export type FileContent = string | Uint8Array | readonly Uint8Array[]

function contentChunks(content: FileContent): readonly Uint8Array[] {
  if (typeof content === 'string') return [new TextEncoder().encode(content)]
  return content instanceof Uint8Array ? [content] : content
}

/**
 * A fresh hidden path beside `path` for building it: `.<name>.<random>.<purpose>` in the same folder.
 * @param purpose a word saying what the temporary is for (`partial`, `staging`, `previous`)
 */
export function temporarySibling(path: string, purpose = 'partial'): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.${purpose}`)
}

/**
 * Write `content` to `path` atomically: a temporary sibling, every byte written, fsync, rename over `path`. The
 * folder must exist (it is not created, so a mistyped folder fails instead of appearing). Nothing is left beside
 * `path` when writing fails.
 */
export async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const temporary = temporarySibling(path)
  try {
    const handle = await open(temporary, 'w')
    try {
      for (const chunk of contentChunks(content)) {
        let written = 0
        while (written < chunk.length) {
          written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten
        }
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/** `writeFileAtomic` after creating `path`'s folder, for caches and stores Tiller owns. */
export async function writeFileAtomicCreatingFolder(path: string, content: FileContent): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFileAtomic(path, content)
}

/**
 * A file written piece by piece at chosen offsets (e.g. streamed weights), synchronously, under a temporary sibling:
 * `commit()` fsyncs and renames it over the target, `abort()` deletes it.
 */
export class AtomicFileWriter {
  /** The file this writer produces on `commit()`. */
  readonly path: string
  private readonly temporary: string
  private descriptor: number | undefined

  constructor(path: string) {
    this.path = path
    this.temporary = temporarySibling(path)
    this.descriptor = openSync(this.temporary, 'w')
  }

  /** Whether `commit()` or `abort()` has run. */
  get closed(): boolean {
    return this.descriptor === undefined
  }

  /** Write all of `bytes` at byte `position` of the file. */
  write(bytes: Uint8Array, position: number): void {
    if (this.descriptor === undefined) throw new Error(`${this.path} is already closed.`)
    let written = 0
    while (written < bytes.byteLength) {
      written += writeSync(this.descriptor, bytes, written, bytes.byteLength - written, position + written)
    }
  }

  /** Flush, close and move the file into place (a second call does nothing). */
  commit(): void {
    if (this.descriptor === undefined) return
    fsyncSync(this.descriptor)
    closeSync(this.descriptor)
    this.descriptor = undefined
    renameSync(this.temporary, this.path)
  }

  /** Close and delete the temporary file (after a failure). */
  abort(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor)
    this.descriptor = undefined
    rmSync(this.temporary, { force: true })
  }
}
