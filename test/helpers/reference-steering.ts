import type { RenderedExample, RenderedSequence } from '../../src/main/core/data/render.ts'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { referenceTrace } from './reference-llama.ts'

/**
 * What a mean-difference fit should produce, computed with the plain Float32Array forward pass: for each pair, the
 * mean of `resid_post[layer]` over `positions(side)` on the positive side minus the same on the negative side,
 * averaged over the pairs.
 * @returns `[hidden]` in float64
 */
export function referenceMeanDifference(
  checkpoint: LlamaCheckpoint,
  examples: readonly RenderedExample[],
  layer: number,
  positions: (side: RenderedSequence) => number[],
): Float64Array {
  const width = checkpoint.config.hiddenSize
  const expected = new Float64Array(width)
  for (const example of examples) {
    for (const [sign, side] of [
      [1, example.positive],
      [-1, example.negative],
    ] as const) {
      const residPost = referenceTrace(checkpoint, side.tokenIds).layers[layer]?.residPost
      if (residPost === undefined) throw new Error(`the reference model has no layer ${layer}`)
      const read = positions(side)
      for (const position of read) {
        for (let column = 0; column < width; column++) {
          expected[column] =
            (expected[column] as number) +
            (sign * (residPost[position * width + column] as number)) / read.length / examples.length
        }
      }
    }
  }
  return expected
}
