import { createHash } from 'node:crypto'
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { discoverHuggingFaceModels } from '../../src/main/core/models/discovery/hugging-face-cache.ts'
import { selectPullFiles } from '../../src/main/core/models/hub/select-files.ts'
import { listModelVariants } from '../../src/main/core/models/variants.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { runTiller } from '../helpers/cli.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * `tiller pull` against a local server that answers the requests @huggingface/hub makes (read from its sources):
 *   GET  /api/models/ID/revision/REV?expand=…      modelInfo: sha and siblings
 *   POST /api/models/ID/paths-info/REV            pathsInfo: size, git oid, LFS sha256 per path
 *   GET  /ID/resolve/REV/FILE  (Range: bytes=a-b)  fileDownloadInfo probes bytes=0-0 for Content-Range and ETag;
 *                                                  the download itself is a ranged GET from where a partial file ends
 */

const repository = 'tiny-org/tiny-llama-onnx'
const commit = 'c0ffee0000000000000000000000000000000001'

interface Served {
  path: string
  bytes: Buffer
  oid: string
  sha256: string
  lfs: boolean
}

interface Logged {
  method: string
  url: string
  range: string | undefined
}

let scratch = ''
let source = ''
let files: Served[] = []
let server: Server
let endpoint = ''
const requests: Logged[] = []
/** Cut the connection after this many bytes of the next full download of this file (once). */
let cut: { path: string; after: number } | undefined

function listFiles(folder: string, under = ''): string[] {
  return readdirSync(join(folder, under), { withFileTypes: true }).flatMap((entry) => {
    const path = under === '' ? entry.name : `${under}/${entry.name}`
    return entry.isDirectory() ? (entry.name === '.tiller' ? [] : listFiles(folder, path)) : [path]
  })
}

function answer(request: IncomingMessage, response: ServerResponse, body: string): void {
  requests.push({ method: request.method ?? '', url: request.url ?? '', range: request.headers.range })
  const url = new URL(request.url ?? '/', 'http://localhost')
  const prefix = `/api/models/${repository}/`
  if (request.method === 'GET' && url.pathname.startsWith(`${prefix}revision/`)) {
    const revision = decodeURIComponent(url.pathname.slice(`${prefix}revision/`.length))
    if (revision !== 'main' && revision !== commit) {
      response.writeHead(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'RevisionNotFound' })
      response.end(JSON.stringify({ error: `Revision Not Found for url: ${url.pathname}` }))
      return
    }
    response.writeHead(200, { 'Content-Type': 'application/json' })
    response.end(
      JSON.stringify({
        _id: '0123',
        id: repository,
        sha: commit,
        private: false,
        gated: false,
        downloads: 0,
        likes: 0,
        pipeline_tag: 'text-generation',
        lastModified: '2026-01-01T00:00:00.000Z',
        siblings: files.map((file) => ({ rfilename: file.path })),
      }),
    )
    return
  }
  if (request.method === 'POST' && url.pathname === `${prefix}paths-info/${commit}`) {
    const { paths } = JSON.parse(body) as { paths: string[] }
    response.writeHead(200, { 'Content-Type': 'application/json' })
    response.end(
      JSON.stringify(
        files
          .filter((file) => paths.includes(file.path))
          .map((file) => ({
            type: 'file',
            path: file.path,
            oid: file.oid,
            size: file.bytes.length,
            ...(file.lfs ? { lfs: { oid: file.sha256, size: file.bytes.length, pointerSize: 134 } } : {}),
          })),
      ),
    )
    return
  }
  const resolvePrefix = `/${repository}/resolve/${commit}/`
  const file = url.pathname.startsWith(resolvePrefix)
    ? files.find(
        (candidate) => candidate.path === decodeURIComponent(url.pathname.slice(resolvePrefix.length)),
      )
    : undefined
  if (request.method !== 'GET' || file === undefined) {
    response.writeHead(404, { 'X-Error-Code': 'EntryNotFound' })
    response.end('not found')
    return
  }
  const etag = `"${file.lfs ? file.sha256 : file.oid}"`
  const total = file.bytes.length
  const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '')
  const start = range === null ? 0 : Number(range[1])
  const end = range === null || range[2] === '' ? total - 1 : Math.min(Number(range[2]), total - 1)
  const headers = { ETag: etag, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' }
  const part = file.bytes.subarray(start, end + 1)
  if (range === null) response.writeHead(200, { ...headers, 'Content-Length': total })
  else
    response.writeHead(206, {
      ...headers,
      'Content-Length': part.length,
      'Content-Range': `bytes ${start}-${end}/${total}`,
    })
  if (cut !== undefined && cut.path === file.path && part.length > cut.after) {
    const after = cut.after
    cut = undefined
    response.write(part.subarray(0, after), () => response.socket?.destroy())
    return
  }
  response.end(part)
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-pull-'))
  // The repository: a float32 and a q4 export of the same tiny model, in the Transformers.js layout.
  source = await buildTinyModel({ family: 'optimum' })
  const quantized = await buildTinyModel({ family: 'optimum', dtype: 'q4' })
  for (const file of ['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'])
    cpSync(join(quantized, file), join(source, file))
  rmSync(dirname(quantized), { recursive: true, force: true })
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>
  delete config['transformers.js_config']
  writeFileSync(join(source, 'config.json'), JSON.stringify(config))
  writeFileSync(join(source, 'README.md'), '# tiny\n')
  files = listFiles(source).map((path) => {
    const bytes = readFileSync(join(source, path))
    return {
      path,
      bytes,
      oid: createHash('sha1').update(bytes).digest('hex'),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      lfs: path.includes('.onnx'),
    }
  })
  server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
    request.on('end', () => answer(request, response, body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  process.env['HF_ENDPOINT'] = endpoint
})

afterAll(async () => {
  delete process.env['HF_ENDPOINT']
  delete process.env['HF_HUB_CACHE']
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(scratch, { recursive: true, force: true })
  rmSync(dirname(source), { recursive: true, force: true })
})

describe('which files a variant needs', () => {
  it('takes the configuration, tokenizer and the variant graph with its data, and nothing else', () => {
    const listing = [
      { path: 'config.json', size: 1 },
      { path: 'tokenizer.json', size: 2 },
      { path: 'README.md', size: 3 },
      { path: 'onnx/model.onnx', size: 10 },
      { path: 'onnx/model.onnx_data', size: 4000 },
      { path: 'onnx/model_fp16.onnx', size: 10 },
      { path: 'onnx/model_fp16.onnx_data', size: 2000 },
      { path: 'onnx/model_q4.onnx', size: 600 },
    ]
    const fp16 = selectPullFiles(repository, listing, 'float16', undefined)
    expect(fp16.files.map((file) => file.path)).toEqual([
      'config.json',
      'tokenizer.json',
      'onnx/model_fp16.onnx',
      'onnx/model_fp16.onnx_data',
    ])
    expect(fp16.totalBytes).toBe(2013)
    expect(selectPullFiles(repository, listing, undefined, undefined).variant.name).toBe('fp32')
    expect(selectPullFiles(repository, listing, undefined, 'q4').variant.name).toBe('q4')
    expect(() => selectPullFiles(repository, listing, 'int8', undefined)).toThrow(
      `${repository} has no int8 variant; it has fp32 (0.0 MB), fp16 (0.0 MB), q4 (0.0 MB).`,
    )
    expect(() => selectPullFiles(repository, listing.slice(0, 3), undefined, undefined)).toThrow(
      /has no ONNX decoder graph/,
    )
  })
})

describe('tiller pull against a local hub', () => {
  it('offline: one line, a non-zero exit, nothing written', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const cache = join(scratch, 'offline-cache')
    process.env['HF_HUB_CACHE'] = cache
    process.env['HF_ENDPOINT'] = `http://127.0.0.1:${port}`
    try {
      const run = await runTiller(['pull', repository, '--variant', 'q4'])
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      expect(run.stderr).toMatch(
        new RegExp(`^tiller pull: Cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) .*\\n$`),
      )
      expect(run.stderr.split('\n')).toHaveLength(2)
      expect(existsSync(cache)).toBe(false)
    } finally {
      process.env['HF_ENDPOINT'] = endpoint
    }
  })

  it('downloads the q4 variant into the cache layout, resumes a cut download, and discovery loads it', async () => {
    const cache = join(scratch, 'cache')
    process.env['HF_HUB_CACHE'] = cache
    const data = files.find((file) => file.path === 'onnx/model_q4.onnx_data')
    expect(data).toBeDefined()
    const half = Math.floor((data?.bytes.length ?? 0) / 2)
    cut = { path: 'onnx/model_q4.onnx_data', after: half }
    requests.length = 0
    const first = await runTiller(['pull', repository, '--dtype', 'q4'])
    expect(first.code).toBe(1)
    expect(first.stderr).toMatch(/^tiller pull: Cannot reach .*Run it again to resume\.\n$/m)
    const storage = join(cache, `models--${repository.replace('/', '--')}`)
    const partial = join(storage, 'blobs', `${data?.sha256 ?? ''}.incomplete`)
    expect(statSync(partial).size).toBe(half)
    // Nothing is linked into a snapshot before every file is complete: discovery sees no model yet.
    expect(existsSync(join(storage, 'snapshots'))).toBe(false)
    expect(await discoverHuggingFaceModels(cache)).toEqual([])

    const blobs = join(storage, 'blobs')
    const presentBytes = readdirSync(blobs).reduce(
      (total, name) => total + statSync(join(blobs, name)).size,
      0,
    )
    requests.length = 0
    const second = await runTiller(['pull', repository, '--variant', 'q4', '--json'])
    // Progress: a line per finished file (stderr is not a terminal here), the last at 100 %.
    expect(second.stderr).toMatch(
      /^onnx\/model_q4\.onnx_data: 0\.\d MB \/ 0\.\d MB \(total \d+\.\d % of 0\.\d MB\)$/m,
    )
    expect(second.stderr.trimEnd().split('\n').at(-1)).toMatch(/\(total 100\.0 % of/)
    expect(second.code).toBe(0)
    const result = JSON.parse(second.stdout) as {
      folder: string
      commit: string
      variant: string
      files: string[]
      totalBytes: number
      downloadedBytes: number
    }
    const wanted = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']
      .filter((path) => files.some((file) => file.path === path))
      .concat(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'])
    expect([...result.files].sort()).toEqual([...wanted].sort())
    expect(result).toMatchObject({ folder: join(storage, 'snapshots', commit), commit, variant: 'q4' })
    const wantedBytes = files
      .filter((file) => wanted.includes(file.path))
      .reduce((total, file) => total + file.bytes.length, 0)
    expect(result.totalBytes).toBe(wantedBytes)
    // The data file continued from the partial one: one ranged request from its end.
    const dataRequests = requests.filter((request) => request.url.endsWith('/onnx/model_q4.onnx_data'))
    expect(dataRequests.map((request) => request.range)).toEqual(['bytes=0-0', `bytes=${half}-`])
    expect(presentBytes).toBeGreaterThan(half)
    expect(result.downloadedBytes).toBe(wantedBytes - presentBytes)
    expect(existsSync(partial)).toBe(false)

    // The hub cache layout: snapshot links into blobs named by etag, and refs/main.
    expect(readFileSync(join(storage, 'refs', 'main'), 'utf8')).toBe(commit)
    for (const path of wanted) {
      const pointer = join(result.folder, path)
      expect(lstatSync(pointer).isSymbolicLink()).toBe(true)
      const served = files.find((file) => file.path === path)
      expect(readFileSync(pointer).equals(served?.bytes ?? Buffer.alloc(0))).toBe(true)
      const etag = served?.lfs ? served.sha256 : served?.oid
      expect(relative(storage, join(storage, 'blobs', etag ?? ''))).toBe(`blobs/${etag ?? ''}`)
      expect(existsSync(join(storage, 'blobs', etag ?? ''))).toBe(true)
    }
    expect(existsSync(join(result.folder, 'onnx/model.onnx'))).toBe(false)

    const [discovered, ...others] = await discoverHuggingFaceModels(cache)
    expect(others).toEqual([])
    expect(discovered).toMatchObject({ repository, revision: commit, path: result.folder })
    expect(listModelVariants(result.folder).map((variant) => variant.name)).toEqual(['q4'])
    const model = await loadModel(result.folder, { provider: 'cpu' })
    try {
      expect(model.graphPath).toBe(join(result.folder, 'onnx/model_q4.onnx'))
    } finally {
      await model.dispose()
    }

    // Pulling again downloads nothing.
    requests.length = 0
    const third = await runTiller(['pull', repository, '--variant', 'q4', '--json'])
    expect(third.code).toBe(0)
    expect((JSON.parse(third.stdout) as { downloadedBytes: number }).downloadedBytes).toBe(0)
    expect(
      requests.filter((request) => request.url.includes('/resolve/') && request.range !== 'bytes=0-0'),
    ).toEqual([])
  })

  it('names the variants the repository has when the asked one is missing, and a revision it lacks', async () => {
    process.env['HF_HUB_CACHE'] = join(scratch, 'other-cache')
    const missing = await runTiller(['pull', repository, '--variant', 'fp16'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/has no fp16 variant; it has fp32 \(\d+\.\d MB\), q4 \(\d+\.\d MB\)\.\n$/)
    const revision = await runTiller(['pull', repository, '--revision', 'v9'])
    expect(revision.code).toBe(1)
    expect(revision.stderr).toMatch(
      /has no model tiny-org\/tiny-llama-onnx .*check the id and --revision\.\n$/,
    )
  })
})
