import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { floatsToHalves } from '../../../src/shared/float16.ts'
import { ggmlTensorByteLength } from '../../../src/main/core/gguf/ggml-types.ts'
import { serializeGguf, type GgufTensorInput } from '../../../src/main/core/gguf/writer.ts'
import {
  expectedWeightShapes,
  type LlamaConfig,
  type WeightTensor,
} from '../../../src/main/core/models/checkpoint.ts'
import { checkpointToGguf, ggufTensorName } from './gguf-model.ts'

/**
 * Large synthetic Llama GGUFs for memory and speed measurements: every matrix Q8_0 (or Q4_K) with random quants,
 * norms F32 ones, written to disk one tensor at a time so that building a 1 GB file holds one tensor, not the file.
 */

/** A Llama shape of about `layers` × 13.6 MB of Q8_0 (hidden 1024, MLP 2816) plus its embedding and classifier. */
export function syntheticConfig(layers: number, vocabularySize = 4096): LlamaConfig {
  return {
    vocabSize: vocabularySize,
    hiddenSize: 1024,
    intermediateSize: 2816,
    numLayers: layers,
    numHeads: 16,
    numKeyValueHeads: 16,
    headDim: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: false,
    bosTokenId: 1,
    eosTokenId: 2,
  }
}

/** TinyLlama 1.1B's shape (22 layers, hidden 2048, MLP 5632, 32/4 heads, vocabulary 32000): 1.17 GB as Q8_0. */
export function tinyLlamaShape(): LlamaConfig {
  return {
    ...syntheticConfig(22, 32000),
    hiddenSize: 2048,
    intermediateSize: 5632,
    numHeads: 32,
    numKeyValueHeads: 4,
    headDim: 64,
    maxPositionEmbeddings: 2048,
  }
}

const blockBytes = 34
const blockValues = 32

/**
 * Fills `bytes` (whole Q8_0 blocks) with random blocks from a seeded generator: a float16 scale of 0.05/127, then
 * 32 int8 quants uniform in [-127, 127], so values lie in ±0.05.
 */
function fillRandomQ8Blocks(bytes: Uint8Array, seed: number): void {
  const scale = floatsToHalves(Float32Array.of(0.05 / 127))[0] as number
  const next = xorshift(seed)
  for (let block = 0; block < bytes.length; block += blockBytes) {
    setHalf(bytes, block, scale)
    for (let at = block + 2; at < block + blockBytes; at += 4) {
      // Four quants per word, each byte mapped from [0, 255] to [-127, 127] as two's complement.
      const word = next()
      for (let byte = 0; byte < 4 && at + byte < block + blockBytes; byte++) {
        bytes[at + byte] = ((((word >>> (8 * byte)) & 0xff) % 255) - 127) & 0xff
      }
    }
  }
}

/** xorshift32 from `seed`: successive 32-bit words. */
function xorshift(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
}

/** Writes float16 bit pattern `half` little-endian at `at`. */
function setHalf(bytes: Uint8Array, at: number, half: number): void {
  bytes[at] = half & 0xff
  bytes[at + 1] = half >> 8
}

/**
 * Fills `bytes` (whole Q4_K super-blocks of 256 values) from a seeded generator: float16 d = 0.05/63/15 and
 * dmin = 0.05/63, then random 6-bit sub-block scales and minimums and random 4-bit quants, so values lie in ±0.05.
 */
function fillRandomQ4kBlocks(bytes: Uint8Array, seed: number): void {
  const halves = floatsToHalves(Float32Array.of(0.05 / 63 / 15, 0.05 / 63))
  const next = xorshift(seed)
  for (let block = 0; block < bytes.length; block += q4kBlockBytes) {
    setHalf(bytes, block, halves[0] as number)
    setHalf(bytes, block + 2, halves[1] as number)
    for (let at = block + 4; at < block + q4kBlockBytes; at += 4) {
      const word = next()
      for (let byte = 0; byte < 4; byte++) bytes[at + byte] = (word >>> (8 * byte)) & 0xff
    }
  }
}

const q4kBlockBytes = 144

/** Random block fillers of the matrix types a synthetic GGUF can have. */
const fillers = {
  [GGMLQuantizationType.Q8_0]: fillRandomQ8Blocks,
  [GGMLQuantizationType.Q4_K]: fillRandomQ4kBlocks,
}

/**
 * Writes a synthetic Llama GGUF of `config` with `matrixType` matrices (Q8_0 by default) to `path`, through a
 * temporary file renamed into place. Returns the file's size in bytes. The vocabulary is the tiny SentencePiece one of the test models.
 */
export function writeSyntheticGguf(
  path: string,
  config: LlamaConfig,
  matrixType: keyof typeof fillers = GGMLQuantizationType.Q8_0,
): number {
  const shapes = expectedWeightShapes(config)
  const largest = Math.max(
    ...[...shapes.values()].map(
      (shape) => ggmlTensorByteLength(matrixType, shape[1] ?? blockValues, shape[0] ?? 1) ?? 0,
    ),
  )
  // Every matrix's data is a view of one buffer, refilled with its own random blocks just before it is written.
  const shared = new Uint8Array(largest)
  const weights = new Map<string, WeightTensor>()
  const tensors: Record<string, GgufTensorInput> = {}
  for (const [name, shape] of shapes) {
    weights.set(name, { dtype: 'float32', shape, data: new Float32Array(0) })
    const ggufName = ggufTensorName(name)
    tensors[ggufName] =
      shape.length === 1
        ? {
            name: ggufName,
            type: GGMLQuantizationType.F32,
            shape,
            data: new Float32Array(shape[0] ?? 0).fill(1),
          }
        : {
            name: ggufName,
            type: matrixType,
            shape,
            data: shared.subarray(0, ggmlTensorByteLength(matrixType, shape[1] ?? 0, shape[0] ?? 0)),
          }
  }
  const content = checkpointToGguf({ config, weights }, { tensors })
  const temporary = `${path}.partial`
  const descriptor = openSync(temporary, 'w')
  let position = 0
  let seed = 1
  try {
    for (const chunk of serializeGguf(content)) {
      if (chunk.buffer === shared.buffer && chunk.byteLength > 0) fillers[matrixType](chunk, seed++)
      let written = 0
      while (written < chunk.byteLength) {
        written += writeSync(descriptor, chunk, written, chunk.byteLength - written, position + written)
      }
      position += chunk.byteLength
    }
  } catch (error) {
    closeSync(descriptor)
    rmSync(temporary, { force: true })
    throw error
  }
  closeSync(descriptor)
  renameSync(temporary, path)
  return position
}
