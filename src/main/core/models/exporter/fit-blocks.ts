/**
 * The search behind fitted 4-bit zero points (fitted-zero-points.ts explains the fit), as one self-contained
 * function: its source text is also the code of the worker threads that fit blocks in parallel (fit-workers.ts), so
 * it refers to nothing outside itself (no imports, no module constants, no inner functions) and must stay so.
 */

/** Values each statistics entry holds per block: Σ gap², Σ x², largest |gap|. */
export const statisticsPerBlock = 3

/**
 * Fit blocks 0..count − 1 of `values` (`[count · 32]`): writes each block's 32 quants (0..15) to `quants`, its
 * scale and zero point (0..15) to `scales[block]` and `zeros[block]`, and to `statistics[3·block …]` its squared
 * error, its squared values and its largest absolute error as MatMulNBits computes the weights (float32).
 */
export function fitBlocks(
  values: Float32Array,
  quants: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  statistics: Float64Array,
  count: number,
): void {
  const blockSize = 32
  const levels = 15
  // How many steps the block's range is spread over, one try each, and the least-squares refinements of each try.
  const stepCounts = [15, 14, 14.5, 15.5, 16]
  const refinements = 2
  // Math.floor(x / s + 0.5) is Math.round(x / s) for float32 operands (round-quotient.ts), and faster.
  for (let block = 0; block < count; block++) {
    const start = block * blockSize
    const end = start + blockSize
    let lowest = 0
    let highest = 0
    for (let at = start; at < end; at++) {
      const value = values[at] as number
      if (value < lowest) lowest = value
      if (value > highest) highest = value
    }
    // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
    let bestScale = 1
    let bestZero = 0
    let bestError = Infinity
    for (let tried = 0; tried < stepCounts.length && highest !== lowest; tried++) {
      let scale = Math.fround((highest - lowest) / (stepCounts[tried] as number))
      for (let round = 0; round <= refinements && scale > 0; round++) {
        // The zero point that puts the grid's lowest level at or below `lowest`, as near as 0..15 allows.
        let zero = Math.floor(-lowest / scale + 0.5)
        zero = zero < 0 ? 0 : zero > levels ? levels : zero
        // The try's squared error and the least-squares scale Σ x·k / Σ k² of its quants (k = q − zero).
        let error = 0
        let numerator = 0
        let denominator = 0
        for (let at = start; at < end; at++) {
          const value = values[at] as number
          let quant = Math.floor(value / scale + 0.5) + zero
          quant = quant < 0 ? 0 : quant > levels ? levels : quant
          const level = quant - zero
          const gap = Math.fround(scale * level) - value
          error += gap * gap
          numerator += value * level
          denominator += level * level
        }
        if (error < bestError) {
          bestScale = scale
          bestZero = zero
          bestError = error
        }
        const refined = Math.fround(denominator > 0 ? numerator / denominator : scale)
        // A scale its own refinement returns gives the same quants, error and refinement again: the try is done.
        if (refined === scale) break
        scale = refined
      }
    }
    scales[block] = bestScale
    zeros[block] = bestZero
    let squaredError = 0
    let squaredValues = 0
    let maximumError = 0
    for (let at = start; at < end; at++) {
      const value = values[at] as number
      let quant = Math.floor(value / bestScale + 0.5) + bestZero
      quant = quant < 0 ? 0 : quant > levels ? levels : quant
      quants[at] = quant
      const gap = Math.abs(Math.fround(bestScale * (quant - bestZero)) - value)
      if (gap > maximumError) maximumError = gap
      squaredError += gap * gap
      squaredValues += value * value
    }
    statistics[3 * block] = squaredError
    statistics[3 * block + 1] = squaredValues
    statistics[3 * block + 2] = maximumError
  }
}
