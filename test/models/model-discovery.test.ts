import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  discoverHuggingFaceModels,
  huggingFaceCacheFolder,
} from '../../src/main/core/models/discovery/hugging-face-cache.ts'
import { scanModelFolder } from '../../src/main/core/models/discovery/local-folders.ts'
import { describeModelFolder, summariseConfig } from '../../src/main/core/models/discovery/model-folder.ts'
import { keyValueCacheBytes, modelFootprint } from '../../src/main/core/models/discovery/model-footprint.ts'

let root = ''

const llamaConfig = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  num_hidden_layers: 4,
  hidden_size: 64,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
}

function write(path: string, content: string | Uint8Array): void {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, content)
}

/**
 * A fake hub cache laid out as huggingface_hub writes it: blobs, and snapshots whose files link to them.
 * - owner/onnx-model: two revisions; the newer one holds config.json and onnx/model.onnx (+ external data)
 * - owner/pytorch-only: config.json and safetensors only (not ONNX-capable)
 * - owner/no-config: an .onnx without config.json
 */
function buildCache(cache: string): void {
  const repository = join(cache, 'models--owner--onnx-model')
  write(join(repository, 'blobs', 'config'), JSON.stringify(llamaConfig))
  write(join(repository, 'blobs', 'graph'), new Uint8Array(100))
  write(join(repository, 'blobs', 'data'), new Uint8Array(1000))
  const newer = join(repository, 'snapshots', 'bbbb')
  mkdirSync(join(newer, 'onnx'), { recursive: true })
  symlinkSync(join(repository, 'blobs', 'config'), join(newer, 'config.json'))
  symlinkSync(join(repository, 'blobs', 'graph'), join(newer, 'onnx', 'model.onnx'))
  symlinkSync(join(repository, 'blobs', 'data'), join(newer, 'onnx', 'model.onnx_data'))
  const older = join(repository, 'snapshots', 'aaaa')
  mkdirSync(older, { recursive: true })
  symlinkSync(join(repository, 'blobs', 'config'), join(older, 'config.json'))
  symlinkSync(join(repository, 'blobs', 'graph'), join(older, 'model.onnx'))
  utimesSync(older, new Date(2020, 0, 1), new Date(2020, 0, 1))
  utimesSync(newer, new Date(2024, 0, 1), new Date(2024, 0, 1))
  write(join(cache, 'models--owner--pytorch-only', 'snapshots', 'cccc', 'config.json'), '{}')
  write(join(cache, 'models--owner--pytorch-only', 'snapshots', 'cccc', 'model.safetensors'), 'x')
  write(join(cache, 'models--owner--no-config', 'snapshots', 'dddd', 'model.onnx'), 'x')
  write(join(cache, 'datasets--owner--set', 'snapshots', 'eeee', 'config.json'), '{}')
  write(join(cache, 'datasets--owner--set', 'snapshots', 'eeee', 'model.onnx'), 'x')
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tiller-discovery-'))
  buildCache(join(root, 'hub'))
})

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('Hugging Face cache location', () => {
  test('HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub', () => {
    expect(huggingFaceCacheFolder({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b' })).toBe('/a/hub')
    expect(huggingFaceCacheFolder({ HF_HOME: '/b' })).toBe('/b/hub')
    expect(huggingFaceCacheFolder({ HF_HOME: ' ' })).toMatch(/\.cache\/huggingface\/hub$/)
  })
})

describe('Hugging Face cache discovery', () => {
  test('lists only ONNX-capable model snapshots, the newest revision of each, with sizes through the links', async () => {
    const models = await discoverHuggingFaceModels(join(root, 'hub'))
    expect(models).toHaveLength(1)
    const [model] = models
    expect(model).toMatchObject({
      name: 'owner/onnx-model',
      repository: 'owner/onnx-model',
      revision: 'bbbb',
      source: 'hugging-face',
      architecture: 'LlamaForCausalLM',
      layers: 4,
      hiddenSize: 64,
      onnxFiles: ['onnx/model.onnx'],
      path: join(root, 'hub', 'models--owner--onnx-model', 'snapshots', 'bbbb'),
    })
    // config.json + graph + data, measured through the symbolic links.
    expect(model?.sizeBytes).toBe(JSON.stringify(llamaConfig).length + 100 + 1000)
  })

  test('a missing cache folder is simply empty', async () => {
    expect(await discoverHuggingFaceModels(join(root, 'no-such-cache'))).toEqual([])
  })
})

describe('model folders', () => {
  test('config summary: architecture, layers, grouped key/value heads and head size', () => {
    expect(summariseConfig(llamaConfig)).toEqual({
      architecture: 'LlamaForCausalLM',
      layers: 4,
      hiddenSize: 64,
      keyValueHeads: 2,
      headDimension: 8,
      contextLength: 128,
    })
    expect(summariseConfig({ model_type: 'qwen2', num_hidden_layers: 'x' })).toMatchObject({
      architecture: 'qwen2',
      layers: null,
    })
  })

  test('a folder without an ONNX graph is not a model', async () => {
    const folder = join(root, 'not-a-model')
    write(join(folder, 'config.json'), '{}')
    expect(await describeModelFolder(folder, 'folder')).toBeNull()
  })

  test('an added folder lists its model subfolders, or itself when it is one; a missing one says so', async () => {
    const models = join(root, 'my-models')
    write(join(models, 'first', 'config.json'), JSON.stringify(llamaConfig))
    write(join(models, 'first', 'model.onnx'), 'x')
    write(join(models, 'second', 'config.json'), '{}')
    write(join(models, 'second', 'onnx', 'decoder.onnx'), 'x')
    write(join(models, 'notes', 'readme.txt'), 'x')
    const scan = await scanModelFolder(models)
    expect(scan.problem).toBeNull()
    expect(scan.models.map((model) => model.name)).toEqual(['first', 'second'])
    expect((await scanModelFolder(join(models, 'first'))).models.map((model) => model.path)).toEqual([
      join(models, 'first'),
    ])
    const gone = await scanModelFolder(join(root, 'gone'))
    expect(gone.models).toEqual([])
    expect(gone.problem).toContain('is missing')
  })
})

describe('model footprint', () => {
  test('key/value cache: 2 × layers × kv heads × head size × context × bytes', () => {
    const config = summariseConfig(llamaConfig)
    expect(keyValueCacheBytes(config, 4)).toBe(2 * 4 * 2 * 8 * 128 * 4)
    expect(keyValueCacheBytes({ ...config, contextLength: null }, 4)).toBe(0)
  })

  test('expected memory is the weights (compiled steered graphs excluded) plus the cache', async () => {
    const folder = join(root, 'footprint')
    write(join(folder, 'config.json'), JSON.stringify(llamaConfig))
    write(join(folder, 'onnx', 'model.onnx'), new Uint8Array(300))
    write(join(folder, 'onnx', 'model.onnx_data'), new Uint8Array(5000))
    write(join(folder, 'onnx', 'steered-abc.onnx'), new Uint8Array(700))
    write(join(folder, 'tokenizer.json'), new Uint8Array(50))
    const footprint = await modelFootprint(folder, 'float16')
    expect(footprint.sizeBytes).toBe(JSON.stringify(llamaConfig).length + 300 + 5000 + 700 + 50)
    expect(footprint.expectedMemoryBytes).toBe(300 + 5000 + 2 * 4 * 2 * 8 * 128 * 2)
    expect(footprint.contextLength).toBe(128)
  })
})
