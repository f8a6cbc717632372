import { open } from 'node:fs/promises'

import { TillerError } from '../../../errors.ts'
import { expectedWeightShapes } from '../../checkpoint.ts'
import type { LlamaConfig, WeightTensor } from '../../checkpoint.ts'
import { interleavedToHalfSplitRows } from '../rope-permutation.ts'
import { assertReadableTensor } from './gguf-file.ts'
import type { GgufFile } from './gguf-file.ts'
import { readGgufTensor } from './tensor-data.ts'

/** How a GGUF llama tensor becomes a Hugging Face weight. */
interface TensorMapping {
  huggingFaceName: string
  /** Set for q/k projections: rows go from interleaved RoPE pairs to rotate_half order, per head. */
  ropeHeads?: 'query' | 'key'
}

const layerTensors: Record<string, TensorMapping> = {
  'attn_norm.weight': { huggingFaceName: 'input_layernorm.weight' },
  'attn_q.weight': { huggingFaceName: 'self_attn.q_proj.weight', ropeHeads: 'query' },
  'attn_k.weight': { huggingFaceName: 'self_attn.k_proj.weight', ropeHeads: 'key' },
  'attn_v.weight': { huggingFaceName: 'self_attn.v_proj.weight' },
  'attn_output.weight': { huggingFaceName: 'self_attn.o_proj.weight' },
  'ffn_norm.weight': { huggingFaceName: 'post_attention_layernorm.weight' },
  'ffn_gate.weight': { huggingFaceName: 'mlp.gate_proj.weight' },
  'ffn_up.weight': { huggingFaceName: 'mlp.up_proj.weight' },
  'ffn_down.weight': { huggingFaceName: 'mlp.down_proj.weight' },
}

/** Tensors every llama layer has in a GGUF file. */
export const tensorsPerLayer = Object.keys(layerTensors).length

const modelTensors: Record<string, TensorMapping> = {
  'token_embd.weight': { huggingFaceName: 'model.embed_tokens.weight' },
  'output_norm.weight': { huggingFaceName: 'model.norm.weight' },
  'output.weight': { huggingFaceName: 'lm_head.weight' },
}

/** The mapping of one GGUF tensor name, or undefined when a plain llama model has no such tensor. */
function mappingOf(name: string, numLayers: number): TensorMapping | undefined {
  const model = modelTensors[name]
  if (model !== undefined) return model
  const match = /^blk\.(\d+)\.(.+)$/.exec(name)
  const layer = Number(match?.[1])
  const mapping = match?.[2] === undefined ? undefined : layerTensors[match[2]]
  if (mapping === undefined || !Number.isInteger(layer) || layer >= numLayers) return undefined
  return { ...mapping, huggingFaceName: `model.layers.${layer}.${mapping.huggingFaceName}` }
}

/** The GGUF tensor name of a Hugging Face weight name (the inverse of mappingOf). */
function ggufNameOf(huggingFaceName: string): string {
  for (const [ggufName, mapping] of Object.entries(modelTensors)) {
    if (mapping.huggingFaceName === huggingFaceName) return ggufName
  }
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(huggingFaceName)
  const entry = Object.entries(layerTensors).find(([, mapping]) => mapping.huggingFaceName === match?.[2])
  return match === null || entry === undefined ? huggingFaceName : `blk.${match[1]}.${entry[0]}`
}

function sameWeights(first: WeightTensor, second: WeightTensor): boolean {
  if (first.dtype !== second.dtype || first.data.length !== second.data.length) return false
  return first.data.every((value, index) => Object.is(value, second.data[index]))
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

/** Checks the file's tensor directory against the configuration before any data is read. */
function checkTensorDirectory(file: GgufFile, config: Omit<LlamaConfig, 'tieWordEmbeddings'>): void {
  const expected = expectedWeightShapes({ ...config, tieWordEmbeddings: false })
  const present = new Set<string>()
  for (const tensor of file.tensors.values()) {
    const mapping = mappingOf(tensor.name, config.numLayers)
    if (mapping === undefined) {
      throw new TillerError(
        'unsupported-architecture',
        `${file.path}: tensor "${tensor.name}" is not part of a ${config.numLayers}-layer llama model (biases, ` +
          `extra layers or another architecture's weights). Tiller cannot import this variant.`,
        { subject: `${file.path}: ${tensor.name}` },
      )
    }
    // Refused here, before any tensor data is read, rather than part-way through the import.
    assertReadableTensor(file, tensor)
    present.add(mapping.huggingFaceName)
    const shape = expected.get(mapping.huggingFaceName) ?? []
    if (formatShape(shape) !== formatShape(tensor.shape)) {
      throw new TillerError(
        'shape-mismatch',
        `${file.path}: tensor "${tensor.name}" has shape ${formatShape(tensor.shape)} (rows, columns) but the ` +
          `metadata (llama.embedding_length ${config.hiddenSize}, llama.feed_forward_length ${config.intermediateSize}, ` +
          `heads ${config.numHeads}/${config.numKeyValueHeads} of size ${config.headDim}, vocabulary ${config.vocabSize}) ` +
          `implies ${formatShape(shape)}. The file is inconsistent; convert the model again.`,
        { subject: `${file.path}: ${tensor.name}` },
      )
    }
  }
  for (const name of expected.keys()) {
    if (!present.has(name) && name !== 'lm_head.weight') {
      const ggufName = ggufNameOf(name)
      throw new TillerError(
        'shape-mismatch',
        `${file.path}: tensor "${ggufName}" is missing although llama.block_count = ${config.numLayers} needs it. ` +
          `The file is incomplete; convert the model again.`,
        { subject: `${file.path}: ${ggufName}` },
      )
    }
  }
}

/**
 * Reads every tensor of a llama GGUF into Hugging Face names and layouts (`[out, in]`, rotate_half q/k rows).
 * The classifier is tied (no lm_head.weight) when `output.weight` is absent or bit-identical to the embedding.
 * Throws TillerError 'shape-mismatch' (shape vs metadata), 'unsupported-architecture' (unknown tensors) or
 * 'unsupported-tensor-type', each naming the file and tensor.
 */
export async function readLlamaWeights(
  file: GgufFile,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
): Promise<{ weights: Map<string, WeightTensor>; tieWordEmbeddings: boolean }> {
  checkTensorDirectory(file, config)
  const weights = new Map<string, WeightTensor>()
  const handle = await open(file.path, 'r')
  try {
    for (const tensor of file.tensors.values()) {
      const mapping = mappingOf(tensor.name, config.numLayers)
      if (mapping === undefined) continue
      let weight = await readGgufTensor(file, handle, tensor)
      if (mapping.ropeHeads !== undefined) {
        const heads = mapping.ropeHeads === 'query' ? config.numHeads : config.numKeyValueHeads
        const { blocks } = weight
        weight = { ...weight, data: interleavedToHalfSplitRows(weight.data, heads, config.headDim) }
        if (blocks !== undefined) {
          // Groups run along a row, so the row permutation moves each row's quants and scales with it.
          weight.blocks = {
            ...blocks,
            quants: interleavedToHalfSplitRows(blocks.quants, heads, config.headDim),
            scales: interleavedToHalfSplitRows(blocks.scales, heads, config.headDim),
            ...(blocks.offsets === undefined
              ? {}
              : { offsets: interleavedToHalfSplitRows(blocks.offsets, heads, config.headDim) }),
          }
        }
      }
      weights.set(mapping.huggingFaceName, weight)
    }
  } finally {
    await handle.close()
  }
  const embedding = weights.get('model.embed_tokens.weight')
  const classifier = weights.get('lm_head.weight')
  const tieWordEmbeddings =
    classifier === undefined || (embedding !== undefined && sameWeights(embedding, classifier))
  if (tieWordEmbeddings) weights.delete('lm_head.weight')
  return { weights, tieWordEmbeddings }
}
