/**
 * Replacing a whole folder so that a kill at any moment is recoverable. A folder cannot be renamed over another, so
 * the swap takes two renames (target → `.previous`, `.staging` → target) and a kill between them leaves no target.
 * The temporaries have recognisable names beside the target, so the next run (the next import into the same
 * place, or opening the folder) puts `.previous` back when the target is missing and deletes every other leftover.
 *
 * Durability: every file of the staging folder is fsynced before the first rename, and the parent folder after each
 * rename, so after a power loss the renames and the files they name are on disk in order.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { temporarySibling } from './atomic-write.ts'

/** The moments of a swap a test can stop at (a kill just after each one). */
export type SwapStep =
  'staging-built' | 'staging-synced' | 'target-moved-aside' | 'staging-in-place' | 'previous-removed'

/** Test hook: called after each step; a real run passes nothing. */
export type SwapObserver = (step: SwapStep) => void

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Names `temporarySibling` gives the swap's temporaries of `target`, e.g. `.model.0a1b2c3d4e5f.previous`. */
function leftoverPattern(target: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(basename(target))}\\.[0-9a-f]{12}\\.(staging|previous)$`)
}

/** fsync a file or folder. Windows cannot open folders for fsync; NTFS orders its metadata itself there. */
function syncPath(path: string): void {
  let descriptor: number
  try {
    descriptor = openSync(path, 'r')
  } catch (error) {
    if (process.platform === 'win32') return
    throw error
  }
  try {
    fsyncSync(descriptor)
  } catch (error) {
    if (process.platform !== 'win32') throw error
  } finally {
    closeSync(descriptor)
  }
}

/** fsync every file and folder under `folder`, then `folder` itself. */
function syncTree(folder: string): void {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) syncTree(path)
    else if (entry.isFile()) syncPath(path)
  }
  syncPath(folder)
}

/**
 * Repair what an interrupted swap of `target` left: when `target` is missing, the newest `.previous` becomes
 * `target` again; every other `.staging`/`.previous` of `target` is deleted. Returns whether `target` was restored.
 * Safe to call on any path; does nothing when there are no leftovers.
 */
export function recoverFolder(target: string): boolean {
  const parent = dirname(target)
  if (!existsSync(parent)) return false
  const pattern = leftoverPattern(target)
  const leftovers = readdirSync(parent)
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map((entry) => ({ path: join(parent, entry.name), purpose: entry.match?.[1] as 'staging' | 'previous' }))
  if (leftovers.length === 0) return false
  let restored = false
  if (!existsSync(target)) {
    const previous = leftovers
      .filter((entry) => entry.purpose === 'previous')
      .sort((first, second) => statSync(second.path).mtimeMs - statSync(first.path).mtimeMs)[0]
    if (previous !== undefined) {
      renameSync(previous.path, target)
      syncPath(parent)
      restored = true
    }
  }
  for (const entry of leftovers) {
    if (existsSync(entry.path)) rmSync(entry.path, { recursive: true, force: true })
  }
  syncPath(parent)
  return restored
}

/**
 * Build a folder with `build(staging)` in a temporary sibling of `target`, then move it into place, so `target` is
 * always the old folder or the complete new one, and a kill between the two renames is undone by `recoverFolder`
 * (run here first, so the next swap into `target` repairs a previous interrupted one). The staging folder is
 * removed when `build` fails; `target`'s parent folder is created.
 */
export async function replaceFolderAtomic(
  target: string,
  build: (staging: string) => Promise<void>,
  observe: SwapObserver = () => undefined,
): Promise<void> {
  mkdirSync(dirname(target), { recursive: true })
  recoverFolder(target)
  const parent = dirname(target)
  const staging = temporarySibling(target, 'staging')
  mkdirSync(staging)
  try {
    await build(staging)
    observe('staging-built')
    syncTree(staging)
    observe('staging-synced')
    if (existsSync(target)) {
      const previous = temporarySibling(target, 'previous')
      renameSync(target, previous)
      syncPath(parent)
      observe('target-moved-aside')
      try {
        renameSync(staging, target)
      } catch (error) {
        renameSync(previous, target)
        throw error
      }
      syncPath(parent)
      observe('staging-in-place')
      rmSync(previous, { recursive: true, force: true })
    } else {
      renameSync(staging, target)
      observe('staging-in-place')
    }
    syncPath(parent)
    observe('previous-removed')
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    throw error
  }
}
