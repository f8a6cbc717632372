/**
 * Where Tiller writes what it derives from a model folder (compiled graphs, hook maps, activations, weight
 * hashes): inside the folder when Tiller may write there, else in Tiller's cache folder.
 *
 * Tiller writes into a model folder only when all of these hold:
 *   - no cache folder is configured (`TILLER_CACHE_DIR`); a configured cache takes everything, always,
 *   - the folder's permission bits grant writing to this user (checked by bits, not by `access`, so running as
 *     root does not turn a folder someone made read-only into a writable one),
 *   - the folder is not in the application's resources (`resources/` of the source checkout, Electron's
 *     `process.resourcesPath`), which are read-only always: the embedded default model is never written to.
 *
 * The cache folder is `TILLER_CACHE_DIR`, else `$XDG_CACHE_HOME/tiller`, else `~/.cache/tiller`. Everything in it
 * is disposable: deleting it costs only recomputation.
 */
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The environment variable that configures Tiller's cache folder. */
export const cacheFolderVariable = 'TILLER_CACHE_DIR'

/** The name of the folder Tiller keeps inside a writable model folder for its caches. */
export const modelFolderCacheName = '.tiller'

let repositoryResources: string | null | undefined

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

/** The real path of `path`, or its absolute form when it does not exist (yet). */
function realPath(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

function isInside(path: string, root: string): boolean {
  const between = relative(root, path)
  return between === '' || (!isAbsolute(between) && between !== '..' && !between.startsWith(`..${sep}`))
}

/** `resources/` of the checkout this module runs from: the nearest ancestor folder holding a package.json. */
function checkoutResources(): string | null {
  if (repositoryResources !== undefined) return repositoryResources
  repositoryResources = null
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(directory, 'package.json'))) {
      const resources = join(directory, 'resources')
      repositoryResources = existsSync(resources) ? realPath(resources) : null
      break
    }
    const parent = dirname(directory)
    if (parent === directory) break
    directory = parent
  }
  return repositoryResources
}

/** Whether the permission bits of `stats` let this process's user write (owner, group or other bits). */
function bitsGrantWriting(stats: { uid: number; gid: number; mode: number }): boolean {
  const uid = process.getuid?.()
  // Windows has no uid; `access` alone decides there.
  if (uid === undefined) return true
  if (stats.uid === uid) return (stats.mode & 0o200) !== 0
  const groups = [process.getgid?.(), ...(process.getgroups?.() ?? [])]
  if (groups.includes(stats.gid)) return (stats.mode & 0o020) !== 0
  return (stats.mode & 0o002) !== 0
}

/** The configured cache folder (`TILLER_CACHE_DIR`), or undefined when none is configured. */
export function configuredCacheFolder(): string | undefined {
  const configured = nonEmpty(process.env[cacheFolderVariable])
  return configured === undefined ? undefined : resolve(configured)
}

/** Tiller's cache folder: `TILLER_CACHE_DIR`, else `$XDG_CACHE_HOME/tiller`, else `~/.cache/tiller`. */
export function cacheFolder(): string {
  const configured = configuredCacheFolder()
  if (configured !== undefined) return configured
  const xdg = nonEmpty(process.env['XDG_CACHE_HOME'])
  return join(xdg === undefined ? join(homedir(), '.cache') : resolve(xdg), 'tiller')
}

/** Whether `path` lies in the application's resources, which Tiller never writes to. */
export function isProtectedPath(path: string): boolean {
  const real = realPath(path)
  const packaged = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath
  const roots = [typeof packaged === 'string' ? realPath(packaged) : null, checkoutResources()]
  return roots.some((root) => root !== null && isInside(real, root))
}

/**
 * Whether Tiller may write into the existing folder `directory`: the permission bits grant it, the system agrees
 * (`access`: read-only mounts) and it is not protected. A missing folder is not writable.
 */
export function mayWriteInto(directory: string): boolean {
  try {
    accessSync(directory, constants.W_OK)
    return bitsGrantWriting(statSync(directory)) && !isProtectedPath(directory)
  } catch {
    return false
  }
}

/** A stable, readable name for model folder `folder` inside the cache: `<folder name>-<hash of its real path>`. */
export function modelCacheKey(folder: string): string {
  const real = realPath(folder)
  const name = basename(real).replace(/[^\w.-]+/g, '_') || 'model'
  return `${name}-${createHash('sha256').update(real).digest('hex').slice(0, 16)}`
}

/**
 * Where the caches of model folder `folder` live (hook maps, activation files, weight hashes):
 * `<folder>/.tiller` when Tiller may write into the folder, else `<cache>/models/<model key>`.
 */
export function modelCacheFolder(folder: string): string {
  if (configuredCacheFolder() === undefined && mayWriteInto(folder)) return join(folder, modelFolderCacheName)
  return join(cacheFolder(), 'models', modelCacheKey(folder))
}

/**
 * Where graphs derived from a graph in `graphDirectory` of model folder `folder` are written (compiled graphs,
 * validation probes): `graphDirectory` itself when Tiller may write there, else
 * `<cache>/graphs/<model key>/<graphDirectory relative to folder>`. Pass `forceCache` to skip the folder (after
 * a write there failed). A graph written to the cache needs its external data made reachable beside it.
 */
export function derivedGraphFolder(folder: string, graphDirectory: string, forceCache = false): string {
  const inFolder =
    !forceCache &&
    configuredCacheFolder() === undefined &&
    mayWriteInto(graphDirectory) &&
    !isProtectedPath(folder)
  if (inFolder) return graphDirectory
  const root = join(cacheFolder(), 'graphs', modelCacheKey(folder))
  const inside = relative(realPath(folder), realPath(graphDirectory))
  if (isAbsolute(inside) || inside === '..' || inside.startsWith(`..${sep}`)) {
    // A graph outside the model folder gets a directory of its own, named after its real path.
    const hash = createHash('sha256').update(realPath(graphDirectory)).digest('hex').slice(0, 16)
    return join(root, `outside-${hash}`)
  }
  return join(root, inside)
}
