/**
 * `tiller pull`: download the files one variant of a Hugging Face model needs into the hub cache layout, so
 * discovery (discovery/hugging-face-cache.ts) and every other hub library find it:
 *   <cache>/models--<owner>--<name>/blobs/<etag>                    file contents (etag: LFS sha256 or git oid)
 *   <cache>/models--<owner>--<name>/snapshots/<commit>/<path>       relative symbolic links to the blobs
 *   <cache>/models--<owner>--<name>/refs/<revision>                 the commit a branch or tag pointed at
 * Requests go through @huggingface/hub (modelInfo, pathsInfo, downloadFile) against `HF_ENDPOINT` or
 * huggingface.co. A download streams into `<blob>.incomplete` and continues from its size next time (an HTTP
 * range request), so an interrupted pull resumes. Snapshot links are made only once every blob is complete, so a
 * failed pull never shows a half-downloaded model to discovery.
 */
import {
  closeSync,
  openSync,
  writeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileDownloadInfo, modelInfo, pathsInfo } from '@huggingface/hub'
import type { DefaultVariant } from '../../../../shared/model-variants.ts'
import { TillerError } from '../../errors.ts'
import { hashFile } from '../../workspace/file-hash.ts'
import { huggingFaceCacheFolder } from '../discovery/hugging-face-cache.ts'
import { selectPullFiles, type RepositoryFile } from './select-files.ts'

/** What to pull and where from. */
export interface PullRequest {
  /** `owner/name`. */
  repository: string
  /** A variant name (`q4`, `fp16`, …); default the rule of src/shared/model-variants.ts. */
  variant?: string
  /** Branch, tag or commit; default `main`. */
  revision?: string
  /** The hub's address; default `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string
  /** The cache folder; default `HF_HUB_CACHE`, else `HF_HOME/hub`, else ~/.cache/huggingface/hub. */
  cacheFolder?: string
  /** A token for gated or private models; default `HF_TOKEN`. */
  accessToken?: string
  onProgress?: (progress: PullProgress) => void
}

/** Where a pull is: the file being downloaded, its bytes so far, and the whole pull's. */
export interface PullProgress {
  file: string
  fileBytes: number
  fileTotal: number
  bytes: number
  totalBytes: number
  /** Bytes found already downloaded (complete blobs and partial `.incomplete` files) when the pull started. */
  resumedBytes: number
}

/** What a pull did. */
export interface PullResult {
  folder: string
  commit: string
  variant: DefaultVariant
  files: string[]
  totalBytes: number
  /** Bytes actually transferred by this run. */
  downloadedBytes: number
}

interface PlannedFile extends RepositoryFile {
  etag: string
  /** sha256 of the contents, for LFS files: checked once the download completes. */
  sha256: string | undefined
}

const repositoryPattern = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/

function endpointOf(request: PullRequest): string {
  const endpoint = request.endpoint ?? process.env['HF_ENDPOINT']
  return (endpoint === undefined || endpoint.trim() === '' ? 'https://huggingface.co' : endpoint).replace(
    /\/+$/,
    '',
  )
}

/** The network failure behind `error`, when it is one (fetch throws TypeError('fetch failed') with a cause). */
function networkReason(error: unknown): string | undefined {
  if (!(error instanceof Error))
    return typeof error === 'string' && /fetch failed|ECONN|ENOTFOUND/.test(error) ? error : undefined
  const cause = (error as Error & { cause?: unknown }).cause
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined
  if (typeof code === 'string') return code
  if (
    error.message === 'fetch failed' ||
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|terminated/.test(error.message)
  ) {
    return error.message
  }
  return undefined
}

/** Hub and network errors as one line naming the repository, the hub and what to do. */
function describeFailure(error: unknown, repository: string, endpoint: string, what: string): TillerError {
  if (error instanceof TillerError) return error
  const network = networkReason(error)
  if (network !== undefined) {
    return new TillerError(
      'network-unavailable',
      `Cannot reach ${endpoint} (${network}) while ${what}; tiller pull needs the network (or HF_ENDPOINT set to a ` +
        'reachable mirror). Run it again to resume.',
      { subject: endpoint },
    )
  }
  const status =
    typeof error === 'object' && error !== null ? (error as { statusCode?: unknown }).statusCode : undefined
  const message = error instanceof Error ? error.message : String(error)
  if (status === 401 || status === 403) {
    return new TillerError(
      'invalid-argument',
      `${endpoint} refused ${repository} (${String(status)}): a gated or private model; set HF_TOKEN to a token with access.`,
      { subject: repository },
    )
  }
  if (status === 404) {
    return new TillerError(
      'file-not-found',
      `${endpoint} has no model ${repository} (${message}); check the id and --revision.`,
      {
        subject: repository,
      },
    )
  }
  return new TillerError('internal', `${what} failed: ${message}`, { subject: repository })
}

/** A repository path that stays inside the snapshot folder (no `..`, no absolute path). */
function checkedPath(path: string, endpoint: string): string {
  if (
    path === '' ||
    path.startsWith('/') ||
    path.split(/[/\\]/).some((part) => part === '..' || part === '')
  ) {
    throw new TillerError(
      'file-corrupt',
      `${endpoint} listed the file "${path}", which would leave the cache folder.`,
      {
        subject: path,
      },
    )
  }
  return path
}

function sizeOnDisk(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/**
 * Append the bytes of `file` from `start` to `partial`, reporting each chunk. The hub client says where the file
 * is (`fileDownloadInfo`: its resolve URL, size and etag); the body is written chunk by chunk as it arrives, so a
 * cut connection leaves every received byte on disk for the next run. Returns the bytes the file now holds.
 */
async function downloadRange(
  request: PullRequest,
  endpoint: string,
  commit: string,
  file: PlannedFile,
  partial: string,
  start: number,
  onChunk: (bytes: number) => void,
): Promise<void> {
  const accessToken = request.accessToken ?? (process.env['HF_TOKEN'] || undefined)
  const info = await fileDownloadInfo({
    repo: { type: 'model', name: request.repository },
    path: file.path,
    revision: commit,
    hubUrl: endpoint,
    ...(accessToken === undefined ? {} : { accessToken }),
  })
  if (info === null) {
    throw new TillerError(
      'file-not-found',
      `${endpoint} no longer has ${file.path} of ${request.repository} at ${commit}.`,
      { subject: file.path },
    )
  }
  const headers: Record<string, string> = {}
  if (start > 0) headers['Range'] = `bytes=${start}-`
  if (accessToken !== undefined) headers['Authorization'] = `Bearer ${accessToken}`
  const response = await fetch(info.url, { headers })
  if (!response.ok || response.body === null) {
    throw Object.assign(new Error(`${file.path}: HTTP ${response.status}`), { statusCode: response.status })
  }
  // A server that ignores the range sends the whole file: start over rather than append it.
  const append = start > 0 && response.status === 206
  const descriptor = openSync(partial, append ? 'a' : 'w')
  try {
    const reader = response.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      writeSync(descriptor, value)
      onChunk(value.length)
    }
  } finally {
    closeSync(descriptor)
  }
}

/** Pull one variant of `request.repository` into the hub cache; see the module comment. */
export async function pullModel(request: PullRequest): Promise<PullResult> {
  const endpoint = endpointOf(request)
  const { repository } = request
  if (!repositoryPattern.test(repository)) {
    throw new TillerError('invalid-argument', `"${repository}" is not a model id; write it as owner/name.`, {
      subject: 'MODEL_ID',
    })
  }
  const revision = request.revision ?? 'main'
  const accessToken = request.accessToken ?? (process.env['HF_TOKEN'] || undefined)
  const hub = { hubUrl: endpoint, ...(accessToken === undefined ? {} : { accessToken }) }
  const repo = { type: 'model' as const, name: repository }

  let commit: string
  let files: RepositoryFile[]
  try {
    const info = await modelInfo({
      name: repository,
      revision,
      additionalFields: ['sha', 'filePaths'],
      ...hub,
    })
    commit = info.sha
    const paths = info.filePaths
    const details = await pathsInfo({ repo, paths, revision: commit, ...hub })
    files = details
      .filter((entry) => entry.type === 'file')
      .map((entry) => ({ path: checkedPath(entry.path, endpoint), size: entry.size }))
    const etags = new Map(details.map((entry) => [entry.path, entry.lfs?.oid ?? entry.oid]))
    const storage = join(
      request.cacheFolder ?? huggingFaceCacheFolder(),
      `models--${repository.split('/').join('--')}`,
    )
    const plan = (file: RepositoryFile): PlannedFile => {
      const detail = details.find((entry) => entry.path === file.path)
      return { ...file, etag: etags.get(file.path) ?? '', sha256: detail?.lfs?.oid }
    }
    // config.json first: the dtype it declares picks the default variant.
    const configFile = files.find((file) => file.path === 'config.json')
    let declared: string | undefined
    if (configFile !== undefined) {
      const path = await fetchBlob(request, endpoint, commit, storage, plan(configFile), () => undefined)
      declared = declaredDtypeOf(readFileSync(path, 'utf8'))
    }
    const selection = selectPullFiles(repository, files, request.variant, declared)
    const planned = selection.files.map(plan)
    const blobs = planned.map((file) => join(storage, 'blobs', file.etag))
    const resumedBytes = planned.reduce(
      (total, file, index) =>
        total + (existsSync(blobs[index] ?? '') ? file.size : sizeOnDisk(`${blobs[index] ?? ''}.incomplete`)),
      0,
    )
    let bytes = resumedBytes
    let downloadedBytes = 0
    for (const file of planned) {
      await fetchBlob(request, endpoint, commit, storage, file, (fileBytes, chunk) => {
        bytes += chunk
        downloadedBytes += chunk
        request.onProgress?.({
          file: file.path,
          fileBytes,
          fileTotal: file.size,
          bytes,
          totalBytes: selection.totalBytes,
          resumedBytes,
        })
      })
    }
    linkSnapshot(storage, commit, revision, planned)
    return {
      folder: join(storage, 'snapshots', commit),
      commit,
      variant: selection.variant,
      files: planned.map((file) => file.path),
      totalBytes: selection.totalBytes,
      downloadedBytes,
    }
  } catch (error) {
    throw describeFailure(error, repository, endpoint, `pulling ${repository}`)
  }
}

function declaredDtypeOf(text: string): string | undefined {
  try {
    const section = (JSON.parse(text) as Record<string, unknown>)['transformers.js_config']
    const dtype =
      typeof section === 'object' && section !== null
        ? (section as Record<string, unknown>)['dtype']
        : undefined
    return typeof dtype === 'string' ? dtype : undefined
  } catch {
    return undefined
  }
}

/**
 * The blob of `file`, downloading (or resuming) it when missing; returns its path. `onChunk(fileBytes, chunk)`
 * reports each received chunk.
 */
async function fetchBlob(
  request: PullRequest,
  endpoint: string,
  commit: string,
  storage: string,
  file: PlannedFile,
  onChunk: (fileBytes: number, chunk: number) => void,
): Promise<string> {
  if (file.etag === '' || /[/\\]/.test(file.etag)) {
    throw new TillerError('file-corrupt', `${endpoint} gave no usable etag for ${file.path}.`, {
      subject: file.path,
    })
  }
  const blob = join(storage, 'blobs', file.etag)
  if (existsSync(blob)) return blob
  mkdirSync(dirname(blob), { recursive: true })
  const partial = `${blob}.incomplete`
  let start = sizeOnDisk(partial)
  // A partial file longer than the file (a changed upload under the same etag cannot happen; a corrupt one can).
  if (start > file.size) start = 0
  let fileBytes = start
  if (start < file.size || file.size === 0) {
    await downloadRange(request, endpoint, commit, file, partial, start, (chunk) => {
      fileBytes += chunk
      onChunk(fileBytes, chunk)
    })
  }
  const received = sizeOnDisk(partial)
  if (received !== file.size) {
    throw new TillerError(
      'file-corrupt',
      `${file.path}: received ${received} of ${file.size} bytes; run tiller pull again to resume.`,
      { subject: file.path },
    )
  }
  if (file.sha256 !== undefined && (await hashFile(partial)) !== file.sha256) {
    rmSync(partial, { force: true })
    throw new TillerError(
      'file-corrupt',
      `${file.path}: the downloaded bytes do not match the hub's sha256 ${file.sha256}; the partial file was removed, run tiller pull again.`,
      { subject: file.path },
    )
  }
  renameSync(partial, blob)
  return blob
}

/** Link every file into `snapshots/<commit>/` (relative links, as the hub libraries make them) and record the ref. */
function linkSnapshot(
  storage: string,
  commit: string,
  revision: string,
  files: readonly PlannedFile[],
): void {
  const snapshot = join(storage, 'snapshots', commit)
  for (const file of files) {
    const pointer = join(snapshot, file.path)
    mkdirSync(dirname(pointer), { recursive: true })
    if (existsSync(pointer)) continue
    rmSync(pointer, { force: true })
    const blob = join(storage, 'blobs', file.etag)
    try {
      symlinkSync(relative(dirname(pointer), blob), pointer)
    } catch {
      // Windows without the symlink privilege: a copy, as the hub libraries fall back to.
      copyFileSync(blob, pointer)
    }
  }
  if (revision !== commit) {
    const reference = join(storage, 'refs', revision)
    mkdirSync(dirname(reference), { recursive: true })
    writeFileSync(reference, commit)
  }
}
