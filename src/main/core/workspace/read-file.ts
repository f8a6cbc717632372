/**
 * Reading a file the user named (a demonstration set, an edit, a graph): a missing or unreadable file becomes a
 * TillerError that names it, so every reader reports it the same way.
 */
import { readFile } from 'node:fs/promises'
import { TillerError } from '../errors.ts'

/**
 * The bytes of `path`. Throws TillerError('file-not-found') "Cannot read <description> <path>: <reason>" when it
 * cannot be read.
 * @param description what the file is, as the message names it, e.g. "the edit file"
 */
export async function readUserFile(path: string, description: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    throw new TillerError(
      'file-not-found',
      `Cannot read ${description} ${path}: ${(error as Error).message}`,
      {
        subject: path,
        cause: error,
      },
    )
  }
}
