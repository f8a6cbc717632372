/** How far one model's logits are from another's over the same positions. */
export interface LogitGaps {
  /** Largest |a − b| over every logit. */
  maximum: number
  /** Mean |a − b| over every logit. */
  mean: number
  /** sqrt(Σ (a − b)²) / sqrt(Σ b²). */
  relativeRms: number
  /** Share of positions whose highest logit is the same token. */
  agreement: number
}

function argmax(values: Float32Array, start: number, length: number): number {
  let best = start
  for (let at = start + 1; at < start + length; at++) {
    if ((values[at] as number) > (values[best] as number)) best = at
  }
  return best - start
}

/** The gaps of `logits` to `reference`, both `[positions · vocabulary]`. */
export function logitGaps(logits: Float32Array, reference: Float32Array, vocabulary: number): LogitGaps {
  if (logits.length !== reference.length || logits.length % vocabulary !== 0 || logits.length === 0) {
    throw new Error(`logits of ${logits.length} and ${reference.length} values, vocabulary ${vocabulary}`)
  }
  let maximum = 0
  let total = 0
  let squaredGap = 0
  let squared = 0
  for (let at = 0; at < logits.length; at++) {
    const expected = reference[at] as number
    const gap = Math.abs((logits[at] as number) - expected)
    maximum = Math.max(maximum, gap)
    total += gap
    squaredGap += gap * gap
    squared += expected * expected
  }
  const positions = logits.length / vocabulary
  let agreeing = 0
  for (let position = 0; position < positions; position++) {
    const start = position * vocabulary
    if (argmax(logits, start, vocabulary) === argmax(reference, start, vocabulary)) agreeing += 1
  }
  return {
    maximum,
    mean: total / logits.length,
    relativeRms: Math.sqrt(squaredGap / squared),
    agreement: agreeing / positions,
  }
}
