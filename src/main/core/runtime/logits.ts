/**
 * Reading one position's logits out of a `logits` output `[batch, sequence, vocab]` (float32 or float16 bits).
 */
import type * as ort from 'onnxruntime-node'
import { TillerError } from '../errors.ts'
import { halvesToFloats } from '../../../shared/float16.ts'

/** Reusable float32 rows for the last-position logits of each batch row, `[batch][vocab]`. */
export class LogitsRows {
  private readonly rows: Float32Array[]
  readonly vocabSize: number

  constructor(batch: number, vocabSize: number) {
    this.vocabSize = vocabSize
    this.rows = Array.from({ length: batch }, () => new Float32Array(vocabSize))
  }

  /**
   * The logits of `row` at the last position of `logits` `[batch, sequence, vocab]`, as float32 `[vocab]`.
   * float32 output is returned as a view into the tensor (no copy; the caller may modify it); float16 output is
   * decoded into this row's reused buffer.
   */
  lastPosition(logits: ort.Tensor, row: number): Float32Array {
    const [batch, sequence, vocab] = logits.dims
    if (batch === undefined || sequence === undefined || vocab !== this.vocabSize || row >= batch) {
      throw new TillerError(
        'shape-mismatch',
        `logits have shape [${logits.dims.join(', ')}]; expected [batch, sequence, ${this.vocabSize}].`,
      )
    }
    const offset = (row * sequence + sequence - 1) * vocab
    const data = logits.data
    if (data instanceof Float32Array) return data.subarray(offset, offset + vocab)
    if (data instanceof Uint16Array)
      return halvesToFloats(data, this.rows[row] ?? new Float32Array(vocab), offset, vocab)
    throw new TillerError(
      'unsupported-tensor-type',
      `logits have element type ${logits.type}; expected float32/16.`,
    )
  }
}

/** All logits of `logits` `[batch, sequence, vocab]` as float32 (a copy for float16, the data itself for float32). */
export function logitsAsFloat32(logits: ort.Tensor): Float32Array {
  const data = logits.data
  if (data instanceof Float32Array) return data
  if (data instanceof Uint16Array) return halvesToFloats(data)
  throw new TillerError(
    'unsupported-tensor-type',
    `logits have element type ${logits.type}; expected float32/16.`,
  )
}
