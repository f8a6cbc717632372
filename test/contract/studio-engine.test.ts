import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'
import { syntheticConfig, writeSyntheticGguf } from '../importers/helpers/synthetic-gguf.ts'
import { createFakeRuntime } from './fake-runtime.ts'

/**
 * The studio shell's requests through an in-memory port as the renderer reaches them, over the fake runtime and
 * real folders: recent models recorded by loads, discovery of the organism, added folders, imported models and
 * the Hugging Face cache, the footprint of the loaded model, and GGUF import (the real importer on stories260K)
 * as a job whose folder is then discovered.
 */

let root = ''
let engine: Engine
let client: TillerClient
const done: JobDone[] = []

function modelFolder(path: string, layers: number): string {
  mkdirSync(join(path, 'onnx'), { recursive: true })
  writeFileSync(
    join(path, 'config.json'),
    JSON.stringify({ architectures: ['LlamaForCausalLM'], num_hidden_layers: layers, hidden_size: 32 }),
  )
  writeFileSync(join(path, 'onnx', 'model.onnx'), new Uint8Array(64))
  return path
}

async function finished(id: string): Promise<JobDone> {
  await expect.poll(() => done.some((job) => job.id === id)).toBe(true)
  const job = done.find((entry) => entry.id === id)
  if (job === undefined) throw new Error(`job ${id} did not finish`)
  return job
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tiller-studio-engine-'))
  const organism = modelFolder(join(root, 'organism'), 6)
  const { runtime } = createFakeRuntime(organism)
  engine = createEngine({
    runtime,
    datasetsDirectory: null,
    studio: {
      settingsPath: join(root, 'workspace', 'settings.json'),
      importedModelsFolder: join(root, 'workspace', 'models'),
      huggingFaceCache: join(root, 'hub'),
    },
  })
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  client = createClient(bridgeOverPort(clientPort))
  client.on('job:done', (job) => done.push(job))
})

afterAll(async () => {
  await engine.dispose()
  rmSync(root, { recursive: true, force: true })
})

describe('studio requests', () => {
  test('a successful load is remembered as the most recent model in settings.json', async () => {
    const first = modelFolder(join(root, 'loaded', 'first'), 2)
    const second = modelFolder(join(root, 'loaded', 'second'), 2)
    for (const path of [first, second]) {
      const job = await client['model:load']({ path })
      expect((await finished(job.id)).outcome).toBe('succeeded')
    }
    const failed = await client['model:load']({ path: join(root, 'missing-model') })
    expect((await finished(failed.id)).outcome).toBe('failed')
    const settings = await client['settings:read']({})
    expect(settings.recentModels.map((entry) => entry.path)).toEqual([second, first])
    const written = JSON.parse(readFileSync(join(root, 'workspace', 'settings.json'), 'utf8')) as {
      recentModels: { path: string }[]
    }
    expect(written.recentModels.map((entry) => entry.path)).toEqual([second, first])
  })

  test('the loaded model footprint: size on disk and expected memory', async () => {
    const details = await client['model:details']({})
    expect(details.path).toBe(join(root, 'loaded', 'second'))
    const configBytes = readFileSync(join(details.path, 'config.json')).length
    expect(details.sizeBytes).toBe(configBytes + 64)
    // No context length in this config: the weights alone.
    expect(details.expectedMemoryBytes).toBe(64)
  })

  test('theme changes persist; a bad theme is refused naming the field', async () => {
    expect((await client['settings:update']({ theme: 'dark' })).theme).toBe('dark')
    expect((await client['settings:read']({})).theme).toBe('dark')
    await expect(client['settings:update']({ theme: 'purple' as 'dark' })).rejects.toMatchObject({
      code: 'invalid-argument',
      subject: 'theme',
    })
  })

  test('added folders are discovered; a missing folder is refused with what to do', async () => {
    const library = join(root, 'library')
    modelFolder(join(library, 'alpha'), 3)
    await client['models:add-folder']({ path: library })
    await expect(client['models:add-folder']({ path: join(root, 'nowhere') })).rejects.toMatchObject({
      code: 'file-not-found',
      message: expect.stringContaining('is missing'),
    })
    const snapshot = join(root, 'hub', 'models--someone--tiny', 'snapshots', 'rev1')
    modelFolder(snapshot, 1)
    const found = await client['models:discover']({})
    expect(found.organism).toMatchObject({ name: 'organism', source: 'organism', layers: 6 })
    expect(found.organismProblem).toBeNull()
    expect(found.recent.map((entry) => entry.name)).toEqual(['second', 'first'])
    expect(found.folders).toEqual([
      { folder: library, problem: null, models: [expect.objectContaining({ name: 'alpha', layers: 3 })] },
    ])
    expect(found.huggingFace).toMatchObject({
      cacheFolder: join(root, 'hub'),
      exists: true,
      models: [expect.objectContaining({ repository: 'someone/tiny', revision: 'rev1' })],
    })
    const removed = await client['models:remove-folder']({ path: library })
    expect(removed.modelFolders).toEqual([])
  })

  test('GGUF import is a job with progress; the folder it writes is discovered and refused as a target again', async () => {
    const gguf = sharedFixture('stories260K-gguf/stories260K.gguf')
    const progress: string[] = []
    client.on('job:progress', (event) => progress.push(event.message))
    const job = await client['model:import-gguf']({ file: gguf })
    expect(job.kind).toBe('import-gguf')
    const result = await finished(job.id)
    expect(result).toMatchObject({
      outcome: 'succeeded',
      result: { folder: join(root, 'workspace', 'models', 'stories260K'), layers: 5, hiddenSize: 64 },
    })
    expect(progress.some((message) => message.startsWith('Reading stories260K.gguf'))).toBe(true)
    // Then one step per weight as the import streams them: stories260K has 47 (5 layers of 9, the tied
    // embedding, the final norm).
    const steps = progress.filter((message) => /^Writing tensor \d+\/47 \([\d.]+ MB\)…$/.test(message))
    expect(steps).toHaveLength(47)
    expect(steps.at(-1)).toMatch(/^Writing tensor 47\/47/)
    expect(existsSync(join(root, 'workspace', 'models', 'stories260K', 'config.json'))).toBe(true)
    const found = await client['models:discover']({})
    expect(found.folders[0]?.folder).toBe(join(root, 'workspace', 'models'))
    expect(found.folders[0]?.models.map((model) => model.name)).toEqual(['stories260K'])
    await expect(client['model:import-gguf']({ file: gguf })).rejects.toMatchObject({
      code: 'invalid-argument',
      message: expect.stringContaining('already exists'),
    })
    await expect(client['model:import-gguf']({ file: join(root, 'none.gguf') })).rejects.toMatchObject({
      code: 'file-not-found',
    })
  })

  test('GGUF import keeps about the file’s size, as the command line does: a Q8_0 file becomes a q8 folder', async () => {
    const gguf = join(root, 'synthetic-q8.gguf')
    writeSyntheticGguf(gguf, {
      ...syntheticConfig(1, 256),
      hiddenSize: 64,
      intermediateSize: 128,
      numHeads: 2,
      numKeyValueHeads: 2,
      headDim: 32,
    })
    const job = await client['model:import-gguf']({ file: gguf })
    const result = await finished(job.id)
    expect(result).toMatchObject({ outcome: 'succeeded', result: { layers: 1, hiddenSize: 64 } })
    const folder = join(root, 'workspace', 'models', 'synthetic-q8')
    expect(readdirSync(join(folder, 'onnx'))).toContain('model_quantized.onnx')
    expect(readdirSync(join(folder, 'onnx'))).not.toContain('model.onnx')
  })
})
