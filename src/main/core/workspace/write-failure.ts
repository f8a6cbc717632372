/**
 * Why a file the user named could not be written, in words: an atomic write fails on its hidden temporary sibling,
 * so the raw error names a path the user never gave.
 */
import { dirname } from 'node:path'

/** The reason `path` could not be written, for a message that names `path` itself. */
export function writeFailureReason(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return `the folder ${dirname(path)} does not exist`
  if (code === 'EISDIR') return 'it is a folder'
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return `the folder ${dirname(path)} is not writable`
  }
  return error instanceof Error ? error.message : String(error)
}
