/**
 * Next-token distributions read from a logits buffer, in float64: log-softmax at one position and the KL
 * divergence between two positions' distributions.
 */

/** log softmax of `vocab` logits starting at `offset`, written into `output` (length ≥ vocab). */
export function logSoftmaxAt(
  logits: ArrayLike<number>,
  offset: number,
  vocab: number,
  output: Float64Array,
): Float64Array {
  let max = -Infinity
  for (let id = 0; id < vocab; id++) max = Math.max(max, logits[offset + id] as number)
  let total = 0
  for (let id = 0; id < vocab; id++) total += Math.exp((logits[offset + id] as number) - max)
  const normaliser = max + Math.log(total)
  for (let id = 0; id < vocab; id++) output[id] = (logits[offset + id] as number) - normaliser
  return output
}

/** KL(p ‖ q) in nats of two log-probability vectors over the same vocabulary. */
export function klDivergence(logP: Float64Array, logQ: Float64Array, vocab: number): number {
  let total = 0
  for (let id = 0; id < vocab; id++) {
    const p = Math.exp(logP[id] as number)
    if (p > 0) total += p * ((logP[id] as number) - (logQ[id] as number))
  }
  return Math.max(0, total)
}
