/**
 * File hashes remembered by (path, size, modification time), so a multi-gigabyte weights file is read once, not
 * at every fit, comparison and load. Remembered in memory for the process, and in a JSON cache file when one is
 * given and can be written (a failed write only loses the cache). A file whose size or modification time changed
 * is hashed again.
 */
import { readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { writeFileAtomicCreatingFolder } from './atomic-write.ts'
import { hashFile, hashFileSync } from './file-hash.ts'

/** What is remembered about one file. */
interface HashEntry {
  size: number
  mtimeMs: number
  sha256: string
}

/** The JSON cache file: entries by absolute path. */
interface HashCacheFile {
  version: 1
  files: Record<string, HashEntry>
}

const remembered = new Map<string, HashEntry>()

function isEntry(value: unknown): value is HashEntry {
  if (typeof value !== 'object' || value === null) return false
  const entry = value as Record<string, unknown>
  return (
    typeof entry['size'] === 'number' &&
    typeof entry['mtimeMs'] === 'number' &&
    typeof entry['sha256'] === 'string'
  )
}

function readCacheFile(cacheFile: string): Record<string, HashEntry> {
  try {
    const parsed = JSON.parse(readFileSync(cacheFile, 'utf8')) as Partial<HashCacheFile>
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return {}
    return Object.fromEntries(Object.entries(parsed.files).filter(([, entry]) => isEntry(entry)))
  } catch {
    return {}
  }
}

function matches(entry: HashEntry | undefined, size: number, mtimeMs: number): entry is HashEntry {
  return entry !== undefined && entry.size === size && entry.mtimeMs === mtimeMs
}

function lookUp(
  path: string,
  size: number,
  mtimeMs: number,
  cacheFile: string | undefined,
): string | undefined {
  const inMemory = remembered.get(path)
  if (matches(inMemory, size, mtimeMs)) return inMemory.sha256
  if (cacheFile === undefined) return undefined
  const stored = readCacheFile(cacheFile)[path]
  if (!matches(stored, size, mtimeMs)) return undefined
  remembered.set(path, stored)
  return stored.sha256
}

async function remember(path: string, entry: HashEntry, cacheFile: string | undefined): Promise<void> {
  remembered.set(path, entry)
  if (cacheFile === undefined) return
  const content: HashCacheFile = { version: 1, files: { ...readCacheFile(cacheFile), [path]: entry } }
  try {
    await writeFileAtomicCreatingFolder(cacheFile, JSON.stringify(content, null, 1) + '\n')
  } catch {
    // A cache that cannot be written is only a cache: the memory copy still answers in this process.
  }
}

/**
 * sha256 (hex) of the file at `path`, from memory or `cacheFile` when its size and modification time are those
 * remembered, else hashed (streamed) and remembered.
 */
export async function cachedFileHash(path: string, cacheFile?: string): Promise<string> {
  const absolute = resolve(path)
  const { size, mtimeMs } = statSync(absolute)
  const known = lookUp(absolute, size, mtimeMs, cacheFile)
  if (known !== undefined) return known
  const sha256 = await hashFile(absolute)
  await remember(absolute, { size, mtimeMs, sha256 }, cacheFile)
  return sha256
}

/**
 * `cachedFileHash` answering synchronously: a remembered hash costs nothing, a new one blocks while the file is
 * read. The cache file is written in the background.
 */
export function cachedFileHashSync(path: string, cacheFile?: string): string {
  const absolute = resolve(path)
  const { size, mtimeMs } = statSync(absolute)
  const known = lookUp(absolute, size, mtimeMs, cacheFile)
  if (known !== undefined) return known
  const sha256 = hashFileSync(absolute)
  void remember(absolute, { size, mtimeMs, sha256 }, cacheFile)
  return sha256
}
