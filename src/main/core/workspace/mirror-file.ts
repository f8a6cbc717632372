/**
 * A file made available under a second path without touching the original: a hard link when the file system
 * allows one (no bytes copied, no space used), else a copy for files up to a size limit.
 *
 * Tiller uses it to put a model's weights beside graphs it writes into its cache: ONNX Runtime resolves external
 * data relative to the graph's directory and refuses paths that leave it, symlinks included (it follows them
 * first), so the weights must really be in that directory. A hard link fails across file systems (EXDEV) and,
 * under Linux's protected_hardlinks, for files this user neither owns nor may write; then the file is copied
 * (`COPYFILE_FICLONE`: a reflink where the file system has them) when it is small enough, else refused.
 *
 * An existing mirror is reused when it is the same file (device and inode) or, for a copy, has the source's size
 * and modification time (the copy is stamped with the source's times); otherwise it is replaced atomically.
 */
import { constants, linkSync, renameSync, rmSync, statSync, type Stats } from 'node:fs'
import { copyFile, mkdir, utimes } from 'node:fs/promises'
import { dirname } from 'node:path'
import { TillerError } from '../errors.ts'
import { temporarySibling } from './atomic-write.ts'

/** How `mirrorFile` made the file available: it already was, by a hard link, or by a copy. */
export type MirrorMethod = 'present' | 'link' | 'copy'

/** Options of {@link mirrorFile}. */
export interface MirrorOptions {
  /** The largest file copied when a hard link is impossible, in bytes. */
  copyLimitBytes: number
  /** What to suggest when the file is too large to copy (appended to the error message). */
  advice?: string
}

function statIfPresent(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

function isMirror(source: Stats, target: Stats | undefined): boolean {
  if (target === undefined) return false
  if (source.dev === target.dev && source.ino === target.ino) return true
  // utimes stores times as floating seconds, so a copy's stamp may differ from the source's below a millisecond.
  return source.size === target.size && Math.abs(source.mtimeMs - target.mtimeMs) < 1
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  return code ?? (error instanceof Error ? error.message : String(error))
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}

/**
 * Make `source` available at `target` (its folder is created): reuse a valid mirror, else hard-link, else copy.
 * Throws TillerError('invalid-model-folder') naming both paths when linking fails and the file is over
 * `options.copyLimitBytes`.
 */
export async function mirrorFile(
  source: string,
  target: string,
  options: MirrorOptions,
): Promise<MirrorMethod> {
  const sourceStats = statSync(source)
  if (isMirror(sourceStats, statIfPresent(target))) return 'present'
  await mkdir(dirname(target), { recursive: true })
  const linked = temporarySibling(target, 'link')
  let linkFailure: unknown
  try {
    linkSync(source, linked)
    renameSync(linked, target)
    return 'link'
  } catch (error) {
    linkFailure = error
  } finally {
    // rename(2) does nothing when both names are already links to one file; the temporary then remains.
    rmSync(linked, { force: true })
  }
  if (sourceStats.size > options.copyLimitBytes) {
    throw new TillerError(
      'invalid-model-folder',
      `Cannot hard-link ${source} to ${target} (${describe(linkFailure)}), and at ${megabytes(sourceStats.size)} ` +
        `it is over the ${megabytes(options.copyLimitBytes)} Tiller copies. ${options.advice ?? ''}`.trim(),
      { subject: source, cause: linkFailure },
    )
  }
  const copied = temporarySibling(target, 'partial')
  try {
    await copyFile(source, copied, constants.COPYFILE_FICLONE)
    await utimes(copied, sourceStats.atimeMs / 1000, sourceStats.mtimeMs / 1000)
    renameSync(copied, target)
    return 'copy'
  } catch (error) {
    rmSync(copied, { force: true })
    throw error
  }
}
