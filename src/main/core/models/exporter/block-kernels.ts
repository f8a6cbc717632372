/**
 * The per-block work of a quantized export, as self-contained functions: their source text is also the code of the
 * worker threads that run chunks of blocks in parallel (block-workers.ts), so each refers to nothing outside itself
 * (no imports, no module constants, no inner functions) and must stay so. Every kernel takes the same arguments:
 * float values `[count · 32]`, and writes per block 32 quants, a scale, a zero point and its statistics.
 *
 * Rounding is Math.floor(x / s + 0.5), several times faster than Math.round(x / s) in V8's optimised loops and
 * equal to it here: floor(x + 0.5) equals Math.round(x) (halves toward +∞) whenever x + 0.5 is exact, that is for
 * |x| ≥ 0.5 up to 2^52, and for |x| < 0.5 unless x lies within 2^-54 below 0.5; a quotient of two float32 values is
 * either exactly 0.5 or at least about 2^-25 away from it, so the forms never differ and the output stays bit-exact.
 */

/** Values each statistics entry holds per block: Σ gap², Σ x², largest |gap|. */
export const statisticsPerBlock = 3

/**
 * Fitted 4-bit zero points (fitted-zero-points.ts explains the search). Fits blocks 0..count − 1 of `values`:
 * writes each block's 32 quants (0..15) to `quants`, its scale and zero point (0..15) to `scales[block]` and
 * `zeros[block]`, and to `statistics[3·block …]` its squared error, its squared values and its largest absolute
 * error as MatMulNBits computes the weights (float32).
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
  // The scales this block has evaluated and the earliest round each was evaluated at. A try that reaches a scale
  // already evaluated at the same round or earlier would repeat that chain's passes (same quants, error and
  // refinement; no error below the best so far) within fewer remaining rounds, so the try stops there.
  const seenScales = new Float64Array(stepCounts.length * (refinements + 1))
  const seenRounds = new Int32Array(stepCounts.length * (refinements + 1))
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
    let seen = 0
    for (let tried = 0; tried < stepCounts.length && highest !== lowest; tried++) {
      let scale = Math.fround((highest - lowest) / (stepCounts[tried] as number))
      for (let round = 0; round <= refinements && scale > 0; round++) {
        let known = -1
        for (let entry = 0; entry < seen && known < 0; entry++) if (seenScales[entry] === scale) known = entry
        if (known >= 0 && (seenRounds[known] as number) <= round) break
        if (known >= 0) seenRounds[known] = round
        else {
          seenScales[seen] = scale
          seenRounds[seen] = round
          seen++
        }
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

/**
 * Requantize blocks 0..count − 1 of `values` with `levels + 1` levels (15: 4 bits, 255: 8 bits), asymmetrically
 * over [min(x, 0), max(x, 0)] so that 0 stays exact (quantize-blocks.ts). Statistics: only the largest absolute
 * error (the sums stay 0).
 */
export function requantizeBlocks(
  values: Float32Array,
  quants: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  statistics: Float64Array,
  count: number,
  levels: number,
): void {
  const blockSize = 32
  for (let block = 0; block < count; block++) {
    const start = block * blockSize
    const end = start + blockSize
    let minimum = 0
    let maximum = 0
    for (let at = start; at < end; at++) {
      const value = values[at] as number
      if (value < minimum) minimum = value
      if (value > maximum) maximum = value
    }
    // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
    const scale = maximum > minimum ? Math.fround((maximum - minimum) / levels) : 1
    const zero = Math.min(levels, Math.max(0, Math.floor(-minimum / scale + 0.5)))
    scales[block] = scale
    zeros[block] = zero
    let worst = 0
    for (let at = start; at < end; at++) {
      const value = values[at] as number
      const quant = Math.min(levels, Math.max(0, Math.floor(value / scale + 0.5) + zero))
      quants[at] = quant
      worst = Math.max(worst, Math.abs(Math.fround(scale * (quant - zero)) - value))
    }
    statistics[3 * block] = 0
    statistics[3 * block + 1] = 0
    statistics[3 * block + 2] = worst
  }
}
