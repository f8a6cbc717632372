import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { isTillerError, type TillerErrorCode } from '../../src/main/core/errors.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import {
  familyCheckpointToGguf,
  type FamilyArchitecture,
  type FamilyGgufOptions,
} from './helpers/family-gguf.ts'

/**
 * Bad family GGUFs are refused before any tensor data is read, with one message naming the field or tensor and
 * its value: an unknown RoPE scaling type, family tensors whose shapes disagree with the metadata, a family's
 * tensor missing, and a tensor that belongs to another architecture.
 */

const config: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 64,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
}

const configs: Record<FamilyArchitecture, LlamaConfig> = {
  llama: config,
  qwen2: { ...config, architecture: 'qwen2', attentionBias: true },
  qwen3: { ...config, architecture: 'qwen3', qkNorm: true },
  phi3: { ...config, architecture: 'phi3' },
  gemma2: { ...config, architecture: 'gemma2', sandwichNorms: true, tieWordEmbeddings: true },
  gemma3: {
    ...config,
    architecture: 'gemma3_text',
    sandwichNorms: true,
    qkNorm: true,
    tieWordEmbeddings: true,
  },
}

function f32(
  name: string,
  shape: number[],
): { name: string; type: GGMLQuantizationType; shape: number[]; data: Float32Array } {
  return {
    name,
    type: GGMLQuantizationType.F32,
    shape,
    data: new Float32Array(shape.reduce((product, size) => product * size, 1)),
  }
}

describe('GGUF import refuses bad family files naming the field or tensor', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-family-errors-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  async function importError(
    name: string,
    architecture: FamilyArchitecture,
    options: FamilyGgufOptions,
  ): Promise<{ code: TillerErrorCode; message: string; subject?: string }> {
    const path = join(folder, `${name}.gguf`)
    const checkpoint = randomCheckpoint(configs[architecture], 9)
    await writeGgufFile(path, familyCheckpointToGguf(checkpoint, architecture, options))
    const error: unknown = await importGguf(path).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    if (!isTillerError(error)) throw new Error(`expected a TillerError for ${name}, got ${String(error)}`)
    expect(error.message).toContain(path)
    expect(error.message.split('\n')).toHaveLength(1)
    return { code: error.code, message: error.message, subject: error.subject }
  }

  it('an unknown RoPE scaling type, named with its value, for any architecture', async () => {
    const yarn = await importError('qwen3-yarn', 'qwen3', {
      metadata: { 'qwen3.rope.scaling.type': { type: 'string', value: 'yarn' } },
    })
    expect(yarn.code).toBe('unsupported-architecture')
    expect(yarn.subject).toContain('qwen3.rope.scaling.type')
    expect(yarn.message).toContain('qwen3.rope.scaling.type = "yarn"')
  })

  it('linear RoPE scaling with a factor below 1', async () => {
    const error = await importError('linear-half', 'llama', {
      metadata: {
        'llama.rope.scaling.type': { type: 'string', value: 'linear' },
        'llama.rope.scaling.factor': { type: 'float32', value: 0.5 },
      },
    })
    expect(error.subject).toContain('llama.rope.scaling.factor')
    expect(error.message).toContain('llama.rope.scaling.factor = 0.5')
  })

  it('a fused phi3 attn_qkv whose rows disagree with the head counts', async () => {
    const error = await importError('phi3-qkv', 'phi3', {
      tensors: { 'blk.1.attn_qkv.weight': f32('blk.1.attn_qkv.weight', [40, 32]) },
    })
    expect(error.code).toBe('shape-mismatch')
    expect(error.subject).toContain('blk.1.attn_qkv.weight')
    expect(error.message).toContain('[40, 32]')
    expect(error.message).toContain('[64, 32]')
  })

  it('a fused phi3 ffn_up that holds only the up rows', async () => {
    const error = await importError('phi3-up', 'phi3', {
      tensors: { 'blk.0.ffn_up.weight': f32('blk.0.ffn_up.weight', [64, 32]) },
    })
    expect(error.code).toBe('shape-mismatch')
    expect(error.message).toContain('"blk.0.ffn_up.weight" has shape [64, 32]')
    expect(error.message).toContain('phi3.feed_forward_length 64')
    expect(error.message).toContain('implies [128, 32]')
  })

  it('a qwen3 q norm of the wrong width, and a qwen2 model missing its v bias', async () => {
    const norm = await importError('qwen3-norm', 'qwen3', {
      tensors: { 'blk.0.attn_q_norm.weight': f32('blk.0.attn_q_norm.weight', [32]) },
    })
    expect(norm.code).toBe('shape-mismatch')
    expect(norm.message).toContain('"blk.0.attn_q_norm.weight" has shape [32]')
    expect(norm.message).toContain('implies [8]')
    const bias = await importError('qwen2-bias', 'qwen2', { tensors: { 'blk.1.attn_v.bias': undefined } })
    expect(bias.code).toBe('shape-mismatch')
    expect(bias.message).toContain('"blk.1.attn_v.bias" is missing')
  })

  it('a phi3 file holding both the fused attn_qkv and a separate attn_q', async () => {
    const error = await importError('phi3-both', 'phi3', {
      tensors: { 'blk.0.attn_q.weight': f32('blk.0.attn_q.weight', [32, 32]) },
    })
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain('model.layers.0.self_attn.q_proj.weight')
  })

  it('gemma2 soft-capping that is not positive, and a gemma3 sliding-window pattern of 0', async () => {
    const cap = await importError('gemma2-cap', 'gemma2', {
      metadata: { 'gemma2.attn_logit_softcapping': { type: 'float32', value: -50 } },
    })
    expect(cap.code).toBe('unsupported-architecture')
    expect(cap.subject).toContain('gemma2.attn_logit_softcapping')
    expect(cap.message).toContain('gemma2.attn_logit_softcapping = -50')
    const final = await importError('gemma2-final-cap', 'gemma2', {
      metadata: { 'gemma2.final_logit_softcapping': { type: 'float32', value: 0 } },
    })
    expect(final.subject).toContain('gemma2.final_logit_softcapping')
    const pattern = await importError('gemma3-pattern', 'gemma3', {
      metadata: { 'gemma3.attention.sliding_window_pattern': { type: 'uint32', value: 0 } },
    })
    expect(pattern.code).toBe('unsupported-architecture')
    expect(pattern.subject).toContain('gemma3.attention.sliding_window_pattern')
    expect(pattern.message).toContain('= 0')
  })

  it("a gemma2 file missing a layer's post_ffw_norm, and a gemma3 k norm of the wrong width", async () => {
    const missing = await importError('gemma2-post-ffw', 'gemma2', {
      tensors: { 'blk.1.post_ffw_norm.weight': undefined },
    })
    expect(missing.code).toBe('shape-mismatch')
    expect(missing.message).toContain('"blk.1.post_ffw_norm.weight" is missing')
    const norm = await importError('gemma3-k-norm', 'gemma3', {
      tensors: { 'blk.0.attn_k_norm.weight': f32('blk.0.attn_k_norm.weight', [32]) },
    })
    expect(norm.code).toBe('shape-mismatch')
    expect(norm.message).toContain('"blk.0.attn_k_norm.weight" has shape [32]')
  })

  it('rope_freqs.weight of the wrong length, and a tensor of another architecture', async () => {
    const frequencies = await importError('rope-freqs', 'llama', {
      tensors: { 'rope_freqs.weight': f32('rope_freqs.weight', [8]) },
    })
    expect(frequencies.code).toBe('shape-mismatch')
    expect(frequencies.message).toContain('"rope_freqs.weight" has shape [8]')
    expect(frequencies.message).toContain('needs [4]')
    const foreign = await importError('llama-q-norm', 'llama', {
      tensors: { 'blk.0.attn_q_norm.weight': f32('blk.0.attn_q_norm.weight', [8]) },
    })
    expect(foreign.code).toBe('unsupported-architecture')
    expect(foreign.message).toContain('"blk.0.attn_q_norm.weight"')
    expect(foreign.message).toContain('2-layer llama model')
  })
})
