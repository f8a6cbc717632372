import { TillerError } from '../../../errors.ts'
import type { LlamaConfig } from '../../checkpoint.ts'
import type { GgufFile } from './gguf-file.ts'
import { tensorsPerLayer } from './llama-weights.ts'
import {
  metadataFloat,
  metadataInteger,
  metadataString,
  metadataTokenId,
  metadataValue,
  shortestFloat32,
} from './metadata-fields.ts'

/** The architectures this importer reads (the `general.architecture` values). */
export const supportedGgufArchitectures: readonly string[] = ['llama']

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

/**
 * Refuses files whose architecture or features Tiller cannot turn into a faithful model: TillerError
 * 'unsupported-architecture' naming the field (architecture other than llama, MoE, RoPE scaling, per-layer heads).
 */
export function assertSupportedLlamaGguf(file: GgufFile): void {
  const architecture = metadataString(file, 'general.architecture')
  if (architecture === undefined || !supportedGgufArchitectures.includes(architecture)) {
    throw unsupported(
      file,
      'general.architecture',
      `general.architecture is ${architecture === undefined ? 'missing' : `"${architecture}"`}; Tiller imports ` +
        `GGUF models of architecture ${supportedGgufArchitectures.map((name) => `"${name}"`).join(', ')} only. ` +
        `Use the model's Hugging Face ONNX export instead.`,
    )
  }
  if (metadataInteger(file, 'llama.expert_count', 0) > 0) {
    throw unsupported(
      file,
      'llama.expert_count',
      'is a mixture-of-experts model (llama.expert_count > 0), which Tiller does not import.',
    )
  }
  const scaling = metadataString(file, 'llama.rope.scaling.type')
  if ((scaling !== undefined && scaling !== 'none') || file.tensors.has('rope_freqs.weight')) {
    throw unsupported(
      file,
      'llama.rope.scaling.type',
      `uses RoPE frequency scaling (${scaling ?? 'rope_freqs.weight'}), which Tiller's exporter does not support yet.`,
    )
  }
  const headCount = metadataValue(file, 'llama.attention.head_count')
  if (Array.isArray(headCount)) {
    throw unsupported(
      file,
      'llama.attention.head_count',
      'has a different head count per layer, which Tiller does not import.',
    )
  }
}

/**
 * Counts that size loops and allocations, checked against the file before anything uses them: every layer has its
 * tensors in the file, and the context is one Tiller can build position tables for.
 */
function checkSizes(file: GgufFile, numLayers: number, contextLength: number): void {
  if (numLayers < 1 || numLayers * tensorsPerLayer > file.tensors.size) {
    throw new TillerError(
      'file-corrupt',
      `${file.path}: llama.block_count = ${numLayers}, but the file holds ${file.tensors.size} tensors and each ` +
        `llama layer has ${tensorsPerLayer}. The file is damaged; convert the model again.`,
      { subject: `${file.path}: llama.block_count` },
    )
  }
  if (contextLength < 1 || contextLength > maximumContextLength) {
    throw unsupported(
      file,
      'llama.context_length',
      `llama.context_length = ${contextLength} is outside 1..${maximumContextLength}, the context lengths Tiller ` +
        `imports. Set it to the context the model was trained for when converting.`,
    )
  }
}

/**
 * The model configuration from a llama GGUF's metadata (all of it but `tieWordEmbeddings`, which depends on the
 * tensors). Throws TillerError('unsupported-architecture') for other architectures, MoE, RoPE scaling or
 * partial rotary embeddings, and 'file-corrupt' for missing or ill-typed fields, each naming the field.
 */
export function llamaConfigFromGguf(
  file: GgufFile,
  vocabularySize: number,
): Omit<LlamaConfig, 'tieWordEmbeddings'> {
  assertSupportedLlamaGguf(file)
  const hiddenSize = metadataInteger(file, 'llama.embedding_length')
  const numHeads = metadataInteger(file, 'llama.attention.head_count')
  const numKeyValueHeads = metadataInteger(file, 'llama.attention.head_count_kv', numHeads)
  if (numHeads === 0 || hiddenSize === 0 || numKeyValueHeads === 0 || numHeads % numKeyValueHeads !== 0) {
    throw new TillerError(
      'shape-mismatch',
      `${file.path}: llama.attention.head_count = ${numHeads} and llama.attention.head_count_kv = ${numKeyValueHeads} ` +
        `do not describe grouped-query attention over llama.embedding_length = ${hiddenSize}. The file is inconsistent; convert the model again.`,
      { subject: `${file.path}: llama.attention.head_count_kv` },
    )
  }
  const headDim = metadataInteger(file, 'llama.attention.key_length', Math.floor(hiddenSize / numHeads))
  const valueLength = metadataInteger(file, 'llama.attention.value_length', headDim)
  if (valueLength !== headDim || headDim % 2 !== 0 || headDim === 0) {
    throw unsupported(
      file,
      'llama.attention.value_length',
      `has key length ${headDim} and value length ${valueLength}; Tiller needs equal, even head sizes.`,
    )
  }
  const ropeDimensions = metadataInteger(file, 'llama.rope.dimension_count', headDim)
  if (ropeDimensions !== headDim) {
    throw unsupported(
      file,
      'llama.rope.dimension_count',
      `llama.rope.dimension_count = ${ropeDimensions} but the head size is ${headDim}: partial rotary embeddings are ` +
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
  const numLayers = metadataInteger(file, 'llama.block_count')
  const contextLength = metadataInteger(file, 'llama.context_length')
  checkSizes(file, numLayers, contextLength)
  return {
    vocabSize: vocabularySize,
    hiddenSize,
    intermediateSize: metadataInteger(file, 'llama.feed_forward_length'),
    numLayers,
    numHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: shortestFloat32(metadataFloat(file, 'llama.attention.layer_norm_rms_epsilon')),
    ropeTheta: shortestFloat32(metadataFloat(file, 'llama.rope.freq_base', 10000)),
    maxPositionEmbeddings: contextLength,
    bosTokenId,
    eosTokenId,
    ...(padTokenId === undefined ? {} : { padTokenId }),
  }
}
