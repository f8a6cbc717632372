import { TillerError } from '../../../errors.ts'
import type { LlamaConfig, RopeScaling } from '../../checkpoint.ts'
import type { GgufFile } from './gguf-file.ts'
import { gemmaFeatures } from './gemma-config.ts'
import { ggufArchitectures, layerTensorMappings, ropeFrequenciesTensor } from './gguf-architectures.ts'
import type { GgufArchitecture } from './gguf-architectures.ts'
import {
  metadataFloat,
  metadataInteger,
  metadataString,
  metadataTokenId,
  metadataValue,
  shortestFloat32,
} from './metadata-fields.ts'

/** The architectures this importer reads (the `general.architecture` values). */
export const supportedGgufArchitectures: readonly string[] = Object.keys(ggufArchitectures)

/**
 * The longest context imported: the exporter builds RoPE tables for every position (`[positions, headDim / 2]`
 * cos and sin), 512 MiB at this length for 128-wide heads. Llama 3.1's 131072 fits eight times over.
 */
export const maximumContextLength = 1 << 20

function unsupported(file: GgufFile, field: string, detail: string): TillerError {
  return new TillerError('unsupported-architecture', `${file.path}: ${detail}`, {
    subject: `${file.path}: ${field}`,
  })
}

/** The file's `general.architecture` (checked by assertSupportedLlamaGguf), the prefix of its model keys. */
export function architecturePrefix(file: GgufFile): string {
  return metadataString(file, 'general.architecture') ?? 'llama'
}

/** How the file's architecture differs from llama; call after assertSupportedLlamaGguf. */
export function ggufArchitectureOf(file: GgufFile): GgufArchitecture {
  const architecture = ggufArchitectures[architecturePrefix(file)]
  if (architecture === undefined) throw unsupportedArchitecture(file)
  return architecture
}

function unsupportedArchitecture(file: GgufFile): TillerError {
  const architecture = metadataString(file, 'general.architecture')
  return unsupported(
    file,
    'general.architecture',
    `general.architecture is ${architecture === undefined ? 'missing' : `"${architecture}"`}; Tiller imports ` +
      `GGUF models of architecture ${supportedGgufArchitectures.map((name) => `"${name}"`).join(', ')} only. ` +
      `Use the model's Hugging Face ONNX export instead.`,
  )
}

/**
 * Refuses files whose architecture or features Tiller cannot turn into a faithful model: TillerError
 * 'unsupported-architecture' naming the field (an architecture outside gguf-architectures.ts, MoE, an unknown
 * RoPE scaling type, per-layer heads).
 */
export function assertSupportedLlamaGguf(file: GgufFile): void {
  const architecture = metadataString(file, 'general.architecture')
  if (architecture === undefined || ggufArchitectures[architecture] === undefined) {
    throw unsupportedArchitecture(file)
  }
  if (metadataInteger(file, `${architecture}.expert_count`, 0) > 0) {
    throw unsupported(
      file,
      `${architecture}.expert_count`,
      `is a mixture-of-experts model (${architecture}.expert_count > 0), which Tiller does not import.`,
    )
  }
  ropeScalingFromGguf(file, architecture)
  const headCount = metadataValue(file, `${architecture}.attention.head_count`)
  if (Array.isArray(headCount)) {
    throw unsupported(
      file,
      `${architecture}.attention.head_count`,
      'has a different head count per layer, which Tiller does not import.',
    )
  }
}

/**
 * The RoPE scaling the metadata declares: none, or linear with `<arch>.rope.scaling.factor`. llama3 scaling has no
 * metadata type; llama.cpp stores it as rope_freqs.weight, read with the weights. Other types (yarn, longrope, ...)
 * are refused naming the field and the value.
 */
function ropeScalingFromGguf(file: GgufFile, architecture: string): RopeScaling | undefined {
  const field = `${architecture}.rope.scaling.type`
  const type = metadataString(file, field)
  if (type === undefined || type === 'none') return undefined
  if (type === 'linear') {
    const factor = metadataFloat(file, `${architecture}.rope.scaling.factor`)
    if (!(factor >= 1)) {
      throw unsupported(
        file,
        `${architecture}.rope.scaling.factor`,
        `${architecture}.rope.scaling.factor = ${factor}; linear RoPE scaling needs a factor of at least 1.`,
      )
    }
    if (file.tensors.has(ropeFrequenciesTensor)) {
      throw unsupported(
        file,
        field,
        `${field} = "linear" together with ${ropeFrequenciesTensor}: Tiller builds one of the two, not both.`,
      )
    }
    return { type: 'linear', factor: shortestFloat32(factor) }
  }
  throw unsupported(
    file,
    field,
    `${field} = "${type}": Tiller builds RoPE without scaling, with linear scaling, or with llama3 ` +
      `frequency factors (${ropeFrequenciesTensor}) only.`,
  )
}

/** rope_freqs.weight must hold one divisor per RoPE frequency: `[headDim / 2]`. */
export function checkRopeFrequencies(file: GgufFile, shape: readonly number[], headDim: number): void {
  if (shape.length !== 1 || shape[0] !== headDim / 2) {
    throw new TillerError(
      'shape-mismatch',
      `${file.path}: tensor "${ropeFrequenciesTensor}" has shape [${shape.join(', ')}] but a head size of ` +
        `${headDim} needs [${headDim / 2}] (one divisor per RoPE frequency). The file is inconsistent; convert the ` +
        `model again.`,
      { subject: `${file.path}: ${ropeFrequenciesTensor}` },
    )
  }
}

/**
 * Counts that size loops and allocations, checked against the file before anything uses them: every layer has its
 * tensors in the file, and the context is one Tiller can build position tables for.
 */
function checkSizes(file: GgufFile, numLayers: number, contextLength: number): void {
  const prefix = architecturePrefix(file)
  const sizes = { numHeads: 1, numKeyValueHeads: 1, headDim: 1, intermediateSize: 1 }
  const tensorsPerLayer = Object.values(layerTensorMappings(ggufArchitectureOf(file), sizes)).filter(
    (mapping) => mapping.alternative !== true,
  ).length
  if (numLayers < 1 || numLayers * tensorsPerLayer > file.tensors.size) {
    throw new TillerError(
      'file-corrupt',
      `${file.path}: ${prefix}.block_count = ${numLayers}, but the file holds ${file.tensors.size} tensors and each ` +
        `${prefix} layer has ${tensorsPerLayer}. The file is damaged; convert the model again.`,
      { subject: `${file.path}: ${prefix}.block_count` },
    )
  }
  if (contextLength < 1 || contextLength > maximumContextLength) {
    throw unsupported(
      file,
      `${prefix}.context_length`,
      `${prefix}.context_length = ${contextLength} is outside 1..${maximumContextLength}, the context lengths Tiller ` +
        `imports. Set it to the context the model was trained for when converting.`,
    )
  }
}

/**
 * The config fields that set a family apart: model type, biases, q/k norms, sliding window, linear RoPE scaling,
 * and Gemma's features (gemma-config.ts).
 */
function familyFeatures(
  file: GgufFile,
  architecture: GgufArchitecture,
  contextLength: number,
  sizes: { numLayers: number; hiddenSize: number; numHeads: number; headDim: number },
): Partial<LlamaConfig> {
  const prefix = architecturePrefix(file)
  const window = metadataInteger(file, `${prefix}.attention.sliding_window`, 0)
  // A window as long as the context masks nothing.
  const slidingWindow = window > 0 && window < contextLength ? window : undefined
  const ropeScaling = ropeScalingFromGguf(file, prefix)
  const modelType =
    architecture.modelType === 'llama' && slidingWindow !== undefined ? 'mistral' : architecture.modelType
  return {
    // Absent means llama, so plain llama configs stay as they were.
    ...(modelType === 'llama' ? {} : { architecture: modelType }),
    ...(architecture.attentionBias ? { attentionBias: true } : {}),
    ...(architecture.qkNorm ? { qkNorm: true } : {}),
    ...(slidingWindow === undefined ? {} : { slidingWindow }),
    ...(ropeScaling === undefined ? {} : { ropeScaling }),
    ...gemmaFeatures(file, prefix, sizes),
  }
}

/**
 * The model configuration from a GGUF's metadata (all of it but `tieWordEmbeddings`, which depends on the
 * tensors). Throws TillerError('unsupported-architecture') for other architectures, MoE, RoPE scaling or
 * partial rotary embeddings, and 'file-corrupt' for missing or ill-typed fields, each naming the field.
 */
export function llamaConfigFromGguf(
  file: GgufFile,
  vocabularySize: number,
): Omit<LlamaConfig, 'tieWordEmbeddings'> {
  assertSupportedLlamaGguf(file)
  const prefix = architecturePrefix(file)
  const architecture = ggufArchitectureOf(file)
  const hiddenSize = metadataInteger(file, `${prefix}.embedding_length`)
  const numHeads = metadataInteger(file, `${prefix}.attention.head_count`)
  const numKeyValueHeads = metadataInteger(file, `${prefix}.attention.head_count_kv`, numHeads)
  if (numHeads === 0 || hiddenSize === 0 || numKeyValueHeads === 0 || numHeads % numKeyValueHeads !== 0) {
    throw new TillerError(
      'shape-mismatch',
      `${file.path}: ${prefix}.attention.head_count = ${numHeads} and ${prefix}.attention.head_count_kv = ${numKeyValueHeads} ` +
        `do not describe grouped-query attention over ${prefix}.embedding_length = ${hiddenSize}. The file is inconsistent; convert the model again.`,
      { subject: `${file.path}: ${prefix}.attention.head_count_kv` },
    )
  }
  const headDim = metadataInteger(file, `${prefix}.attention.key_length`, Math.floor(hiddenSize / numHeads))
  const valueLength = metadataInteger(file, `${prefix}.attention.value_length`, headDim)
  if (valueLength !== headDim || headDim % 2 !== 0 || headDim === 0) {
    throw unsupported(
      file,
      `${prefix}.attention.value_length`,
      `has key length ${headDim} and value length ${valueLength}; Tiller needs equal, even head sizes.`,
    )
  }
  const ropeDimensions = metadataInteger(file, `${prefix}.rope.dimension_count`, headDim)
  if (ropeDimensions !== headDim) {
    throw unsupported(
      file,
      `${prefix}.rope.dimension_count`,
      `${prefix}.rope.dimension_count = ${ropeDimensions} but the head size is ${headDim}: partial rotary embeddings are ` +
        `not supported by Tiller's exporter, and importing would produce a wrong model.`,
    )
  }
  const bosTokenId = metadataTokenId(file, 'tokenizer.ggml.bos_token_id') ?? 1
  const eosTokenId = metadataTokenId(file, 'tokenizer.ggml.eos_token_id') ?? 2
  const padTokenId = metadataTokenId(file, 'tokenizer.ggml.padding_token_id')
  for (const [field, id] of [
    ['tokenizer.ggml.bos_token_id', bosTokenId],
    ['tokenizer.ggml.eos_token_id', eosTokenId],
    ['tokenizer.ggml.padding_token_id', padTokenId],
  ] as const) {
    if (id !== undefined && id >= vocabularySize) {
      throw new TillerError(
        'file-corrupt',
        `${file.path}: ${field} = ${id} is outside the vocabulary of ${vocabularySize} tokens. Convert the model again.`,
        { subject: `${file.path}: ${field}` },
      )
    }
  }
  const numLayers = metadataInteger(file, `${prefix}.block_count`)
  const contextLength = metadataInteger(file, `${prefix}.context_length`)
  checkSizes(file, numLayers, contextLength)
  return {
    vocabSize: vocabularySize,
    hiddenSize,
    intermediateSize: metadataInteger(file, `${prefix}.feed_forward_length`),
    numLayers,
    numHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: shortestFloat32(metadataFloat(file, `${prefix}.attention.layer_norm_rms_epsilon`)),
    ropeTheta: shortestFloat32(metadataFloat(file, `${prefix}.rope.freq_base`, 10000)),
    maxPositionEmbeddings: contextLength,
    bosTokenId,
    eosTokenId,
    ...(padTokenId === undefined ? {} : { padTokenId }),
    ...familyFeatures(file, architecture, contextLength, { numLayers, hiddenSize, numHeads, headDim }),
  }
}
