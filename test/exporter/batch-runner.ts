import * as ort from 'onnxruntime-node'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { pastName, presentName } from '../../src/main/core/models/graph-contract.ts'
import { halvesToFloats } from '../../src/shared/float16.ts'
import { referenceForward } from '../helpers/reference-llama.ts'

/**
 * Drives an exported decoder the way a generation loop does: left-padded rows, attention mask over past + new
 * slots, position ids counting each row's real tokens from 0, and the KV cache carried from step to step.
 */
export class BatchRunner {
  private readonly session: ort.InferenceSession
  private readonly config: LlamaConfig
  private readonly cacheType: 'float32' | 'float16'
  private readonly mask: number[][]
  private readonly nextPosition: number[]
  private past: Record<string, ort.Tensor>

  constructor(
    session: ort.InferenceSession,
    config: LlamaConfig,
    batch: number,
    cacheType: 'float32' | 'float16' = 'float32',
  ) {
    this.session = session
    this.config = config
    this.cacheType = cacheType
    this.mask = Array.from({ length: batch }, () => [])
    this.nextPosition = new Array<number>(batch).fill(0)
    this.past = {}
    const empty = cacheType === 'float16' ? new Uint16Array(0) : new Float32Array(0)
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const kind of ['key', 'value'] as const) {
        this.past[pastName(layer, kind)] = new ort.Tensor(cacheType, empty, [
          batch,
          config.numKeyValueHeads,
          0,
          config.headDim,
        ])
      }
    }
  }

  /**
   * Run new tokens (`null` = a left pad; every row the same length) and return float32 logits
   * `[batch, kept, vocab]`: every position (`logitsToKeep` 0, the default) or the last `logitsToKeep`.
   */
  async step(rows: (number | null)[][], logitsToKeep = 0): Promise<Float32Array> {
    const batch = rows.length
    const sequence = rows[0]?.length ?? 0
    const ids = new BigInt64Array(batch * sequence)
    const positions = new BigInt64Array(batch * sequence)
    rows.forEach((row, b) => {
      row.forEach((token, s) => {
        ids[b * sequence + s] = BigInt(token ?? 0)
        positions[b * sequence + s] = token === null ? 0n : BigInt(this.nextPosition[b] ?? 0)
        if (token !== null) this.nextPosition[b] = (this.nextPosition[b] ?? 0) + 1
        this.mask[b]?.push(token === null ? 0 : 1)
      })
    })
    const total = this.mask[0]?.length ?? 0
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, sequence]),
      attention_mask: new ort.Tensor(
        'int64',
        BigInt64Array.from(this.mask.flat(), (value) => BigInt(value)),
        [batch, total],
      ),
      position_ids: new ort.Tensor('int64', positions, [batch, sequence]),
      ...this.past,
    }
    // Tiller's exports take num_logits_to_keep; graphs without it always return every position.
    if (this.session.inputNames.includes('num_logits_to_keep'))
      feeds['num_logits_to_keep'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(logitsToKeep)), [])
    const outputs = await this.session.run(feeds)
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const present = outputs[presentName(layer, kind)]
        if (present === undefined) throw new Error(`graph returned no ${presentName(layer, kind)}`)
        if (present.type !== this.cacheType)
          throw new Error(`cache type ${present.type}, expected ${this.cacheType}`)
        this.past[pastName(layer, kind)] = present
      }
    }
    const logits = outputs.logits
    if (logits === undefined) throw new Error('graph returned no logits')
    return logits.type === 'float16'
      ? halvesToFloats(logits.data as Uint16Array)
      : (logits.data as Float32Array)
  }
}

/** Largest |a − b| over rows `[fromRow, fromRow + count)` of `[rows, vocab]` a against rows starting at `referenceRow` of b. */
export function maxDifference(
  actual: Float32Array,
  actualRow: number,
  expected: Float32Array,
  expectedRow: number,
  count: number,
  vocab: number,
): number {
  let largest = 0
  for (let index = 0; index < count * vocab; index++) {
    const difference = Math.abs(
      (actual[actualRow * vocab + index] ?? NaN) - (expected[expectedRow * vocab + index] ?? NaN),
    )
    largest = Number.isNaN(difference) ? Infinity : Math.max(largest, difference)
  }
  return largest
}

/**
 * Largest logit difference from the reference forward pass when `long` and `short` run as one two-row batch, the
 * short row left padded: at prefill, then at one decode step feeding `next[0]` and `next[1]`.
 */
export async function paddedPairDeviation(
  session: ort.InferenceSession,
  checkpoint: LlamaCheckpoint,
  rows: { long: number[]; short: number[]; next: [number, number] },
  cacheType: 'float32' | 'float16' = 'float32',
): Promise<number> {
  const { long, short, next } = rows
  const vocab = checkpoint.config.vocabSize
  const pads = long.length - short.length
  const runner = new BatchRunner(session, checkpoint.config, 2, cacheType)
  const prefill = await runner.step([long, [...new Array<null>(pads).fill(null), ...short]])
  const longReference = referenceForward(checkpoint, [...long, next[0]])
  const shortReference = referenceForward(checkpoint, [...short, next[1]])
  const decode = await runner.step([[next[0]], [next[1]]])
  return Math.max(
    maxDifference(prefill, 0, longReference, 0, long.length, vocab),
    maxDifference(prefill, long.length + pads, shortReference, 0, short.length, vocab),
    maxDifference(decode, 0, longReference, long.length, 1, vocab),
    maxDifference(decode, 1, shortReference, short.length, 1, vocab),
  )
}
