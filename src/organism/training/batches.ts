import type { LlamaConfig } from '../../main/core/models/checkpoint.ts'
import { specialIds } from '../tokenizer.ts'
import type { FloatType } from '../../main/core/onnx/graph-ops.ts'

/**
 * Packing of training documents into fixed-size rows. Several documents share a row; the attention bias keeps
 * them apart (a token attends only to earlier tokens of its own document) and positions restart at 0 for each
 * document, so a packed row trains exactly like the documents run one by one.
 */

/** The per-batch inputs of the training graph (see training-graph.ts), flattened row-major. */
export interface TrainingBatch {
  /** `[batch, seq]` */
  inputIds: BigInt64Array
  /** `[batch, seq]` */
  targets: BigInt64Array
  /** `[batch, seq]`, summing to 1 */
  lossWeights: Float32Array | Float64Array
  /** `[batch, 1, seq, seq]` */
  attentionBias: Float32Array | Float64Array
  /** `[batch, 1, seq, headDim]` */
  cos: Float32Array | Float64Array
  /** `[batch, 1, seq, headDim]` */
  sin: Float32Array | Float64Array
  /** Positions whose next token is predicted (the loss is their mean). */
  predictedTokens: number
  /** `[groups, batch · seq]`, for a graph built with the separation term (see separation-term.ts) */
  contrastWeights?: Float32Array | Float64Array
}

/** Where packing put a document: its row and the offset of its first token. */
export interface Placement {
  row: number
  offset: number
}

/** A large negative bias: exp() of it is exactly 0 in float32 and float64 after softmax's max subtraction. */
const blocked = -1e9

function floatArray(floatType: FloatType, length: number): Float32Array | Float64Array {
  return floatType === 'float32' ? new Float32Array(length) : new Float64Array(length)
}

/** Hugging Face rotary angles: dimension d of a head rotates at theta^(−2·(d mod headDim/2)/headDim) per position. */
export function rotaryAngle(config: LlamaConfig, position: number, dimension: number): number {
  const half = config.headDim / 2
  return position * Math.pow(config.ropeTheta, (-2 * (dimension % half)) / config.headDim)
}

/**
 * Pack `documents` (token id lists, each no longer than `sequence`) into `batch` rows of `sequence` tokens,
 * in order (one document per row with `onePerRow`). Returns the batch, how many documents it used (the rest
 * are for the next batch) and where each used document went.
 */
export function packBatch(
  documents: readonly (readonly number[])[],
  config: LlamaConfig,
  batch: number,
  sequence: number,
  floatType: FloatType,
  layout: { onePerRow?: boolean } = {},
): { batch: TrainingBatch; used: number; placements: Placement[] } {
  const headDim = config.headDim
  const inputIds = new BigInt64Array(batch * sequence).fill(BigInt(specialIds.pad))
  const targets = new BigInt64Array(batch * sequence)
  const lossWeights = floatArray(floatType, batch * sequence)
  const attentionBias = floatArray(floatType, batch * sequence * sequence).fill(blocked)
  const cos = floatArray(floatType, batch * sequence * headDim)
  const sin = floatArray(floatType, batch * sequence * headDim)
  let used = 0
  let predicted = 0
  const placements: Placement[] = []
  for (let row = 0; row < batch; row++) {
    let offset = 0
    for (;;) {
      const document = documents[used]
      if (document !== undefined && document.length > sequence) {
        throw new RangeError(
          `a document of ${document.length} tokens exceeds the sequence length ${sequence}`,
        )
      }
      if (document === undefined || offset + document.length > sequence) break
      placements.push({ row, offset })
      for (let position = 0; position < document.length; position++) {
        const slot = row * sequence + offset + position
        inputIds[slot] = BigInt(document[position] as number)
        const next = document[position + 1]
        if (next !== undefined) {
          targets[slot] = BigInt(next)
          lossWeights[slot] = 1
          predicted++
        }
        for (let earlier = 0; earlier <= position; earlier++) {
          attentionBias[(row * sequence + offset + position) * sequence + offset + earlier] = 0
        }
        for (let dimension = 0; dimension < headDim; dimension++) {
          const angle = rotaryAngle(config, position, dimension)
          cos[slot * headDim + dimension] = Math.cos(angle)
          sin[slot * headDim + dimension] = Math.sin(angle)
        }
      }
      offset += document.length
      used++
      if (layout.onePerRow === true) break
    }
    // Padding attends to itself only, so no softmax row is empty; its loss weight stays 0.
    for (let position = offset; position < sequence; position++) {
      attentionBias[(row * sequence + position) * sequence + position] = 0
      for (let dimension = 0; dimension < headDim; dimension++)
        cos[(row * sequence + position) * headDim + dimension] = 1
    }
  }
  if (predicted === 0) throw new RangeError('a training batch needs at least one predicted token')
  for (let slot = 0; slot < lossWeights.length; slot++)
    lossWeights[slot] = (lossWeights[slot] as number) / predicted
  return {
    batch: { inputIds, targets, lossWeights, attentionBias, cos, sin, predictedTokens: predicted },
    used,
    placements,
  }
}
