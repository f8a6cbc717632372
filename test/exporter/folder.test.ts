import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import type { LlamaCheckpoint, WeightTensor } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { loadModel } from '../../src/main/core/onnx/external-data.ts'
import { isExternal } from '../../src/main/core/onnx/tensor.ts'
import { tinyCheckpoint, tinyConfig } from '../helpers/tiny-models.ts'

const scratch = mkdtempSync(join(tmpdir(), 'tiller-export-folder-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const tokenizer = byteTokenizerFiles(tinyConfig.vocabSize)

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
}

async function expectTillerError(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise
  } catch (error) {
    expect(isTillerError(error)).toBe(true)
    expect((error as { code: string }).code).toBe(code)
    return String(error)
  }
  throw new Error('expected a TillerError')
}

describe('exportModelFolder: the folder', () => {
  it('writes config, generation config, tokenizer files and one graph with one external data file', async () => {
    const checkpoint = tinyCheckpoint({ seed: 2, tie: false })
    const folder = join(scratch, 'complete')
    await exportModelFolder(checkpoint, tokenizer, folder, { family: 'builder' })
    expect(readdirSync(folder).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
    expect(readdirSync(join(folder, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data'])
    const config = readJson(join(folder, modelFiles.config))
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: tinyConfig.vocabSize,
      hidden_size: tinyConfig.hiddenSize,
      intermediate_size: tinyConfig.intermediateSize,
      num_hidden_layers: tinyConfig.numLayers,
      num_attention_heads: tinyConfig.numHeads,
      num_key_value_heads: tinyConfig.numKeyValueHeads,
      head_dim: tinyConfig.headDim,
      rms_norm_eps: tinyConfig.rmsNormEps,
      rope_theta: tinyConfig.ropeTheta,
      max_position_embeddings: tinyConfig.maxPositionEmbeddings,
      tie_word_embeddings: false,
      bos_token_id: tinyConfig.bosTokenId,
      eos_token_id: tinyConfig.eosTokenId,
      pad_token_id: tinyConfig.padTokenId,
      'transformers.js_config': { use_external_data_format: true, dtype: 'fp32' },
      tiller: { graphFamily: 'builder', attention: 'onnx', dtype: 'float32' },
    })
    expect(readJson(join(folder, modelFiles.generationConfig))).toMatchObject({
      bos_token_id: tinyConfig.bosTokenId,
      eos_token_id: tinyConfig.eosTokenId,
    })
    expect(readJson(join(folder, modelFiles.tokenizer))).toEqual(tokenizer.tokenizerJson)
    expect(readJson(join(folder, modelFiles.tokenizerConfig))).toEqual(tokenizer.tokenizerConfig)

    const { model } = await loadModel(join(folder, modelFiles.graph))
    const weights = model.graph.initializer.filter((tensor) => tensor.name.includes('weight'))
    expect(weights.length).toBeGreaterThan(0)
    expect(weights.every(isExternal)).toBe(true)
    expect(statSync(join(folder, modelFiles.graph)).size).toBeLessThan(64 * 1024)
    const parameters = [...checkpoint.weights.values()].reduce(
      (total, tensor) => total + tensor.data.length,
      0,
    )
    expect(statSync(join(folder, modelFiles.graphData)).size).toBeGreaterThanOrEqual(parameters * 4)
  })

  it('refuses a non-empty folder unless overwrite, then replaces it whole', async () => {
    const folder = join(scratch, 'existing')
    mkdirSync(folder)
    writeFileSync(join(folder, 'notes.txt'), 'keep me')
    const message = await expectTillerError(
      exportModelFolder(tinyCheckpoint({}), tokenizer, folder, { family: 'optimum' }),
      'invalid-argument',
    )
    expect(message).toContain(folder)
    expect(readFileSync(join(folder, 'notes.txt'), 'utf8')).toBe('keep me')
    await exportModelFolder(tinyCheckpoint({}), tokenizer, folder, { family: 'optimum', overwrite: true })
    expect(existsSync(join(folder, 'notes.txt'))).toBe(false)
    expect(readJson(join(folder, modelFiles.config))).toMatchObject({
      tiller: { graphFamily: 'optimum', attention: 'primitive' },
    })
  })

  it('leaves nothing behind when writing fails midway', async () => {
    const checkpoint = tinyCheckpoint({})
    let reads = 0
    const failing = new (class extends Map<string, WeightTensor> {
      override get(key: string): WeightTensor | undefined {
        // Validation reads every weight once; fail while the graph is being written.
        reads++
        if (reads > checkpoint.weights.size + 5) throw new Error('disk full')
        return super.get(key)
      }
    })(checkpoint.weights)
    const folder = join(scratch, 'failing')
    await expect(
      exportModelFolder({ config: checkpoint.config, weights: failing }, tokenizer, folder, {
        family: 'builder',
      }),
    ).rejects.toThrow('disk full')
    expect(existsSync(folder)).toBe(false)
    expect(readdirSync(scratch).filter((name) => name.includes('failing'))).toEqual([])
  })
})

describe('exportModelFolder: weight validation', () => {
  function withWeight(name: string, tensor: WeightTensor | undefined): LlamaCheckpoint {
    const checkpoint = tinyCheckpoint({})
    if (tensor === undefined) checkpoint.weights.delete(name)
    else checkpoint.weights.set(name, tensor)
    return checkpoint
  }

  it('names the tensor, the expected and the actual shape on a mismatch', async () => {
    const name = 'model.layers.1.self_attn.k_proj.weight'
    const checkpoint = withWeight(name, { dtype: 'float32', shape: [8, 32], data: new Float32Array(8 * 32) })
    const message = await expectTillerError(
      exportModelFolder(checkpoint, tokenizer, join(scratch, 'mismatch'), { family: 'builder' }),
      'shape-mismatch',
    )
    expect(message).toContain(name)
    expect(message).toContain('[8, 32]')
    expect(message).toContain(
      `[${tinyConfig.numKeyValueHeads * tinyConfig.headDim}, ${tinyConfig.hiddenSize}]`,
    )
    expect(existsSync(join(scratch, 'mismatch'))).toBe(false)
  })

  it('names a missing weight', async () => {
    const message = await expectTillerError(
      exportModelFolder(
        withWeight('model.layers.0.mlp.up_proj.weight', undefined),
        tokenizer,
        join(scratch, 'missing'),
        {
          family: 'optimum',
        },
      ),
      'shape-mismatch',
    )
    expect(message).toContain('model.layers.0.mlp.up_proj.weight')
    expect(message).toContain('missing')
  })

  it('requires lm_head.weight for an untied head and names data that does not fill the shape', async () => {
    const untied = tinyCheckpoint({ tie: true })
    untied.config.tieWordEmbeddings = false
    expect(
      await expectTillerError(
        exportModelFolder(untied, tokenizer, join(scratch, 'untied'), { family: 'builder' }),
        'shape-mismatch',
      ),
    ).toContain('lm_head.weight')
    const short = withWeight('model.norm.weight', {
      dtype: 'float32',
      shape: [tinyConfig.hiddenSize],
      data: new Float32Array(3),
    })
    expect(
      await expectTillerError(
        exportModelFolder(short, tokenizer, join(scratch, 'short'), { family: 'builder' }),
        'shape-mismatch',
      ),
    ).toContain('model.norm.weight')
  })

  it('rejects attention variants for the optimum family', async () => {
    await expectTillerError(
      exportModelFolder(tinyCheckpoint({}), tokenizer, join(scratch, 'variant'), {
        family: 'optimum',
        attention: 'gqa',
      }),
      'invalid-argument',
    )
  })
})
