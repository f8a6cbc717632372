import { open } from 'node:fs/promises'

import { TillerError } from '../../../errors.ts'
import { expectedWeightShapes } from '../../checkpoint.ts'
import type { LlamaConfig, WeightTensor } from '../../checkpoint.ts'
import { halvesToFloats } from '../../../../../shared/float16.ts'
import { interleavedToHalfSplitRows } from '../rope-permutation.ts'
import { assertReadableTensor } from './gguf-file.ts'
import type { GgufFile } from './gguf-file.ts'
import {
  layerTensorMappings,
  modelTensorMappings,
  ropeFrequenciesTensor,
  type GgufArchitecture,
  type TensorMapping,
} from './gguf-architectures.ts'
import { architecturePrefix, checkRopeFrequencies, ggufArchitectureOf } from './llama-config.ts'
import { readGgufTensor } from './tensor-data.ts'

/** The mapping of one GGUF tensor name, or undefined when the architecture has no such tensor. */
function mappingOf(
  name: string,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
  architecture: GgufArchitecture,
): TensorMapping | undefined {
  const model = modelTensorMappings[name]
  if (model !== undefined) return model
  const match = /^blk\.(\d+)\.(.+)$/.exec(name)
  const layer = Number(match?.[1])
  const mapping = match?.[2] === undefined ? undefined : layerTensorMappings(architecture, config)[match[2]]
  if (mapping === undefined || !Number.isInteger(layer) || layer >= config.numLayers) return undefined
  return {
    ...mapping,
    huggingFaceNames: mapping.huggingFaceNames.map((suffix) => `model.layers.${layer}.${suffix}`),
  }
}

/** The GGUF tensor name holding a Hugging Face weight (the inverse of mappingOf). */
function ggufNameOf(
  huggingFaceName: string,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
  architecture: GgufArchitecture,
): string {
  for (const [ggufName, mapping] of Object.entries(modelTensorMappings)) {
    if (mapping.huggingFaceNames.includes(huggingFaceName)) return ggufName
  }
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(huggingFaceName)
  const entry = Object.entries(layerTensorMappings(architecture, config)).find(([, mapping]) =>
    mapping.huggingFaceNames.includes(match?.[2] ?? ''),
  )
  return match === null || entry === undefined ? huggingFaceName : `blk.${match[1]}.${entry[0]}`
}

/** The shape of a GGUF tensor that holds `names` (their rows stacked when fused), from the expected shapes. */
function stackedShape(names: string[], expected: Map<string, number[]>): number[] {
  const shapes = names.map((name) => expected.get(name) ?? [])
  const [first] = shapes
  if (first === undefined || shapes.length === 1) return first ?? []
  return [shapes.reduce((rows, shape) => rows + (shape[0] ?? 0), 0), ...first.slice(1)]
}

/** Consecutive row blocks of `[rows, columns]` data, one per entry of `rowSplit`. */
function splitRows(weight: WeightTensor, rowSplit: number[]): WeightTensor[] {
  const columns = weight.shape[1] ?? 1
  let start = 0
  return rowSplit.map((rows) => {
    const data = weight.data.slice(start * columns, (start + rows) * columns)
    start += rows
    const part = { dtype: weight.dtype, shape: [rows, columns], data } as WeightTensor
    if (weight.sourceBits !== undefined) part.sourceBits = weight.sourceBits
    return part
  })
}

function sameWeights(first: WeightTensor, second: WeightTensor): boolean {
  if (first.dtype !== second.dtype || first.data.length !== second.data.length) return false
  return first.data.every((value, index) => Object.is(value, second.data[index]))
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

/** Checks the file's tensor directory against the configuration before any data is read. */
function checkTensorDirectory(
  file: GgufFile,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
  architecture: GgufArchitecture,
): void {
  const expected = expectedWeightShapes({ ...config, tieWordEmbeddings: false })
  const present = new Set<string>()
  const prefix = architecturePrefix(file)
  for (const tensor of file.tensors.values()) {
    if (tensor.name === ropeFrequenciesTensor && architecture.modelType === 'llama') {
      assertReadableTensor(file, tensor)
      checkRopeFrequencies(file, tensor.shape, config.headDim)
      continue
    }
    const mapping = mappingOf(tensor.name, config, architecture)
    if (mapping === undefined) {
      throw new TillerError(
        'unsupported-architecture',
        `${file.path}: tensor "${tensor.name}" is not part of a ${config.numLayers}-layer ${prefix} model (extra ` +
          `layers, optional features Tiller does not build, or another architecture's weights). Tiller cannot ` +
          `import this variant.`,
        { subject: `${file.path}: ${tensor.name}` },
      )
    }
    // Refused here, before any tensor data is read, rather than part-way through the import.
    assertReadableTensor(file, tensor)
    for (const name of mapping.huggingFaceNames) {
      if (present.has(name)) {
        throw new TillerError(
          'file-corrupt',
          `${file.path}: tensor "${tensor.name}" holds ${name}, which another tensor of the file also holds ` +
            `(fused and separate forms together). The file is inconsistent; convert the model again.`,
          { subject: `${file.path}: ${tensor.name}` },
        )
      }
      present.add(name)
    }
    const shape = stackedShape(mapping.huggingFaceNames, expected)
    if (formatShape(shape) !== formatShape(tensor.shape)) {
      throw new TillerError(
        'shape-mismatch',
        `${file.path}: tensor "${tensor.name}" has shape ${formatShape(tensor.shape)} (rows, columns) but the ` +
          `metadata (${prefix}.embedding_length ${config.hiddenSize}, ${prefix}.feed_forward_length ${config.intermediateSize}, ` +
          `heads ${config.numHeads}/${config.numKeyValueHeads} of size ${config.headDim}, vocabulary ${config.vocabSize}) ` +
          `implies ${formatShape(shape)}. The file is inconsistent; convert the model again.`,
        { subject: `${file.path}: ${tensor.name}` },
      )
    }
  }
  for (const name of expected.keys()) {
    if (!present.has(name) && name !== 'lm_head.weight') {
      const ggufName = ggufNameOf(name, config, architecture)
      throw new TillerError(
        'shape-mismatch',
        `${file.path}: tensor "${ggufName}" is missing although ${prefix}.block_count = ${config.numLayers} needs it. ` +
          `The file is incomplete; convert the model again.`,
        { subject: `${file.path}: ${ggufName}` },
      )
    }
  }
}

/**
 * Reads every tensor of a GGUF of a supported architecture (gguf-architectures.ts) into Hugging Face names and
 * layouts (`[out, in]`, rotate_half q/k rows, fused tensors split). The classifier is tied (no lm_head.weight) when
 * `output.weight` is absent or bit-identical to the embedding. `rope_freqs.weight` (llama) comes back as
 * `ropeFrequencyFactors`. Throws TillerError 'shape-mismatch' (shape vs metadata), 'unsupported-architecture'
 * (unknown tensors) or 'unsupported-tensor-type', each naming the file and tensor.
 */
export async function readLlamaWeights(
  file: GgufFile,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
): Promise<{
  weights: Map<string, WeightTensor>
  tieWordEmbeddings: boolean
  ropeFrequencyFactors: number[] | undefined
}> {
  const architecture = ggufArchitectureOf(file)
  checkTensorDirectory(file, config, architecture)
  const weights = new Map<string, WeightTensor>()
  let ropeFrequencyFactors: number[] | undefined
  const handle = await open(file.path, 'r')
  try {
    for (const tensor of file.tensors.values()) {
      if (tensor.name === ropeFrequenciesTensor) {
        const factors = await readGgufTensor(file, handle, tensor)
        ropeFrequencyFactors = Array.from(
          factors.dtype === 'float16' ? halvesToFloats(factors.data as Uint16Array) : factors.data,
        )
        continue
      }
      const mapping = mappingOf(tensor.name, config, architecture)
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
      const parts = mapping.rowSplit === undefined ? [weight] : splitRows(weight, mapping.rowSplit)
      mapping.huggingFaceNames.forEach((name, index) => {
        const part = parts[index]
        if (part !== undefined) weights.set(name, part)
      })
    }
  } finally {
    await handle.close()
  }
  const embedding = weights.get('model.embed_tokens.weight')
  const classifier = weights.get('lm_head.weight')
  const tieWordEmbeddings =
    classifier === undefined || (embedding !== undefined && sameWeights(embedding, classifier))
  if (tieWordEmbeddings) weights.delete('lm_head.weight')
  return { weights, tieWordEmbeddings, ropeFrequencyFactors }
}
