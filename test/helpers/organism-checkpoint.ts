import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { LlamaCheckpoint, TokenizerFiles, WeightTensor } from '../../src/main/core/models/checkpoint.ts'
import { expectedWeightShapes } from '../../src/main/core/models/checkpoint.ts'
import { loadModel as loadGraph, readTensorBytes } from '../../src/main/core/onnx/external-data.ts'

/**
 * The embedded organism (a trained Llama: hidden 224, 6 layers, vocabulary 992, tied head) read back from its
 * float32 builder-family folder as a checkpoint, for tests that need weights with trained statistics rather than
 * random ones: MatMul weights are stored transposed (`[in, out]`) under `….MatMul.weight`, attention under `attn`.
 */

export const organismFolder = join(import.meta.dirname, '../../resources/models/organism')

/** The graph initializer holding Hugging Face weight `name` of a `layers`-layer model. */
function initializerName(name: string, layers: number): string {
  if (name === 'model.norm.weight') return `model.layers.${layers}.final_norm_layernorm.weight`
  const linear = /^(model\.layers\.\d+)\.(self_attn|mlp)\.(\w+_proj)\.weight$/.exec(name)
  if (linear === null) return name
  const [, layer, block, projection] = linear
  return `${layer}.${block === 'self_attn' ? 'attn' : 'mlp'}.${projection}.MatMul.weight`
}

/** `[rows, columns]` → `[columns, rows]`. */
function transposed(values: Float32Array, rows: number, columns: number): Float32Array {
  const result = new Float32Array(values.length)
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++)
      result[column * rows + row] = values[row * columns + column] as number
  }
  return result
}

/** The organism's checkpoint and tokenizer files. */
export async function organismCheckpoint(): Promise<{
  checkpoint: LlamaCheckpoint
  tokenizer: TokenizerFiles
}> {
  const raw = JSON.parse(readFileSync(join(organismFolder, 'config.json'), 'utf8')) as Record<string, number>
  const config = {
    vocabSize: raw['vocab_size'] as number,
    hiddenSize: raw['hidden_size'] as number,
    intermediateSize: raw['intermediate_size'] as number,
    numLayers: raw['num_hidden_layers'] as number,
    numHeads: raw['num_attention_heads'] as number,
    numKeyValueHeads: raw['num_key_value_heads'] as number,
    headDim: raw['head_dim'] as number,
    rmsNormEps: raw['rms_norm_eps'] as number,
    ropeTheta: raw['rope_theta'] as number,
    maxPositionEmbeddings: raw['max_position_embeddings'] as number,
    tieWordEmbeddings: true,
    bosTokenId: raw['bos_token_id'] as number,
    eosTokenId: raw['eos_token_id'] as number,
    padTokenId: raw['pad_token_id'] as number,
  }
  const graphPath = join(organismFolder, 'onnx', 'model.onnx')
  const { model } = await loadGraph(graphPath)
  const initializers = new Map(model.graph.initializer.map((tensor) => [tensor.name, tensor]))
  const weights = new Map<string, WeightTensor>()
  for (const [name, shape] of expectedWeightShapes(config)) {
    const stored = initializerName(name, config.numLayers)
    const tensor = initializers.get(stored)
    if (tensor === undefined) throw new Error(`the organism graph has no initializer for ${name}`)
    const bytes = readTensorBytes(dirname(graphPath), tensor)
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    const [rows, columns] = shape as [number, number]
    const data = stored.endsWith('.MatMul.weight') ? transposed(values, columns, rows) : values
    weights.set(name, { dtype: 'float32', shape, data })
  }
  const json = (file: string): Record<string, unknown> =>
    JSON.parse(readFileSync(join(organismFolder, file), 'utf8')) as Record<string, unknown>
  return {
    checkpoint: { config, weights },
    tokenizer: { tokenizerJson: json('tokenizer.json'), tokenizerConfig: json('tokenizer_config.json') },
  }
}
