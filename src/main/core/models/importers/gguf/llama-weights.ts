import { open } from 'node:fs/promises'

import { TillerError } from '../../../errors.ts'
import { expectedWeightShapes } from '../../checkpoint.ts'
import type { LlamaConfig } from '../../checkpoint.ts'
import { halvesToFloats } from '../../../../../shared/float16.ts'
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
import { GgufWeightSource, type MappedTensor } from './gguf-weight-source.ts'
import { readGgufTensor } from './tensor-data.ts'
import { sameTensorValues } from './tied-classifier.ts'

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

/** What opening a GGUF's weights finds before any weight is read. */
export interface OpenedLlamaWeights {
  /** Reads the weights one tensor at a time; close it when done. */
  weights: GgufWeightSource
  tieWordEmbeddings: boolean
  ropeFrequencyFactors: number[] | undefined
}

/**
 * Opens the weights of a GGUF of a supported architecture (gguf-architectures.ts) for reading one tensor at a time
 * in Hugging Face names and layouts (`[out, in]`, rotate_half q/k rows, fused tensors split), after checking the
 * tensor directory against the configuration. The classifier is tied (no lm_head.weight) when `output.weight` is
 * absent or bit-identical to the embedding (compared a few rows at a time). `rope_freqs.weight` (llama) comes back
 * as `ropeFrequencyFactors`. Throws TillerError 'shape-mismatch' (shape vs metadata), 'unsupported-architecture'
 * (unknown tensors) or 'unsupported-tensor-type', each naming the file and tensor.
 */
export async function openLlamaWeights(
  file: GgufFile,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
): Promise<OpenedLlamaWeights> {
  const architecture = ggufArchitectureOf(file)
  checkTensorDirectory(file, config, architecture)
  const handle = await open(file.path, 'r')
  try {
    let ropeFrequencyFactors: number[] | undefined
    const tensors: MappedTensor[] = []
    for (const tensor of file.tensors.values()) {
      if (tensor.name === ropeFrequenciesTensor) {
        const factors = await readGgufTensor(file, handle, tensor)
        ropeFrequencyFactors = Array.from(
          factors.dtype === 'float16' ? halvesToFloats(factors.data as Uint16Array) : factors.data,
        )
        continue
      }
      const mapping = mappingOf(tensor.name, config, architecture)
      if (mapping !== undefined) tensors.push({ tensor, mapping })
    }
    const embedding = file.tensors.get('token_embd.weight')
    const classifier = file.tensors.get('output.weight')
    const tieWordEmbeddings =
      classifier === undefined ||
      (embedding !== undefined && (await sameTensorValues(handle, embedding, classifier)))
    const omitted = new Set(tieWordEmbeddings ? ['lm_head.weight'] : [])
    const weights = new GgufWeightSource(file, handle, config, tensors, omitted)
    return { weights, tieWordEmbeddings, ropeFrequencyFactors }
  } catch (error) {
    await handle.close()
    throw error
  }
}
