/**
 * The per-block work of a quantized export, as self-contained functions: their source text is also the code of the
 * worker threads that run chunks of blocks in parallel (block-workers.ts), so each refers to nothing outside itself
 * (no imports, no module constants, no inner functions) and must stay so. Every kernel takes the same arguments:
 * float values `[count · 32]`, and writes per block 32 quants, a scale, a zero point and its statistics.
 * `fitBlocksSimd` also takes the fit's WebAssembly module (fit-kernel-module.ts), which each thread compiles itself.
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

/** The exports of fit-kernel-module.ts's module, as `fitBlocksSimd` calls them. */
export interface FitKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number }
  range(values: number, count: number, out: number): void
  evaluate(pointers: number, scales: number, zeros: number, pairs: number, out: number): void
  finish(
    values: number,
    scales: number,
    zeros: number,
    count: number,
    quants: number,
    statistics: number,
  ): void
}

/**
 * `fitBlocks` with its passes over values in the WebAssembly kernel: the same search, the same bytes. The search
 * runs round by round over all `count` blocks at once (every try's first scale, then each try's first refinement,
 * then its second), so each round is one call that evaluates its candidates two at a time; the best of each block
 * is then chosen in fitBlocks' order (try by try, round by round, the first smallest error), which gives its result
 * whatever order the candidates were evaluated in.
 */
export function fitBlocksSimd(
  values: Float32Array,
  quants: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  statistics: Float64Array,
  count: number,
  kernel: FitKernel,
): void {
  const blockSize = 32
  const levels = 15
  const stepCounts = [15, 14, 14.5, 15.5, 16]
  const tries = 5
  const rounds = 3
  // The kernel's memory, in regions aligned to their elements (8 bytes at least before float64s): values, ranges,
  // the candidate table (block addresses, scales, zero points; one spare entry pads an odd count to whole pairs),
  // its sums, each block's choice, quants, statistics, then this function's own bookkeeping, kept there too since
  // fresh pages cost a fault each on first touch: per block, try and round the scale evaluated and its squared
  // error, per chain its length, per entry its block and try.
  const entries = count * tries + 2
  const chains = count * tries
  const valuesAt = 0
  const rangesAt = valuesAt + count * blockSize * 4
  const pointersAt = rangesAt + count * 16
  const candidateScalesAt = pointersAt + Math.ceil(entries / 2) * 8
  const candidateZerosAt = candidateScalesAt + entries * 8
  const sumsAt = candidateZerosAt + entries * 8
  const chosenScalesAt = sumsAt + entries * 24
  const chosenZerosAt = chosenScalesAt + count * 8
  const quantsAt = chosenZerosAt + count * 8
  const statisticsAt = quantsAt + count * blockSize
  const chainScalesAt = statisticsAt + count * 24
  const chainErrorsAt = chainScalesAt + chains * rounds * 8
  const chainLengthsAt = chainErrorsAt + chains * rounds * 8
  const entryBlocksAt = chainLengthsAt + chains * 4
  const entryTriesAt = entryBlocksAt + entries * 4
  const needed = entryTriesAt + entries * 4
  const have = kernel.memory.buffer.byteLength
  if (needed > have) kernel.memory.grow(Math.ceil((needed - have) / 65536))
  const buffer = kernel.memory.buffer
  new Float32Array(buffer, valuesAt, count * blockSize).set(values.subarray(0, count * blockSize))
  const ranges = new Float64Array(buffer, rangesAt, count * 2)
  const pointers = new Int32Array(buffer, pointersAt, entries)
  const candidateScales = new Float64Array(buffer, candidateScalesAt, entries)
  const candidateZeros = new Float64Array(buffer, candidateZerosAt, entries)
  const sums = new Float64Array(buffer, sumsAt, entries * 3)
  const chosenScales = new Float64Array(buffer, chosenScalesAt, count)
  const chosenZeros = new Float64Array(buffer, chosenZerosAt, count)
  const chainScales = new Float64Array(buffer, chainScalesAt, chains * rounds)
  const chainErrors = new Float64Array(buffer, chainErrorsAt, chains * rounds)
  const chainLengths = new Int32Array(buffer, chainLengthsAt, chains).fill(0)
  const entryBlocks = new Int32Array(buffer, entryBlocksAt, entries)
  const entryTries = new Int32Array(buffer, entryTriesAt, entries)
  kernel.range(valuesAt, count, rangesAt)
  // The candidate table of the first round: every try's first scale.
  let candidates = 0
  for (let block = 0; block < count; block++) {
    const lowest = ranges[2 * block] as number
    const highest = ranges[2 * block + 1] as number
    if (highest === lowest) continue
    for (let tried = 0; tried < tries; tried++) {
      const scale = Math.fround((highest - lowest) / (stepCounts[tried] as number))
      chainScales[(block * tries + tried) * rounds] = scale
      if (!(scale > 0)) continue
      const zero = Math.floor(-lowest / scale + 0.5)
      entryBlocks[candidates] = block
      entryTries[candidates] = tried
      pointers[candidates] = valuesAt + block * blockSize * 4
      candidateScales[candidates] = scale
      candidateZeros[candidates] = zero < 0 ? 0 : zero > levels ? levels : zero
      candidates++
    }
  }
  for (let round = 0; round < rounds && candidates > 0; round++) {
    pointers[candidates] = pointers[candidates - 1] as number
    candidateScales[candidates] = candidateScales[candidates - 1] as number
    candidateZeros[candidates] = candidateZeros[candidates - 1] as number
    kernel.evaluate(pointersAt, candidateScalesAt, candidateZerosAt, (candidates + 1) >> 1, sumsAt)
    // Record each candidate's error; a refinement that can still change the try becomes the next round's candidate
    // (written over this round's table at an index no larger than the one read).
    let next = 0
    for (let entry = 0; entry < candidates; entry++) {
      const block = entryBlocks[entry] as number
      const tried = entryTries[entry] as number
      const at = (block * tries + tried) * rounds + round
      const scale = candidateScales[entry] as number
      const pair = 6 * (entry >> 1) + (entry & 1)
      chainErrors[at] = sums[pair] as number
      chainLengths[block * tries + tried] = round + 1
      const denominator = sums[pair + 4] as number
      const refined = Math.fround(denominator > 0 ? (sums[pair + 2] as number) / denominator : scale)
      // A scale its own refinement returns gives the same quants, error and refinement again: the try is done.
      if (round + 1 === rounds || refined === scale || !(refined > 0)) continue
      const zero = Math.floor(-(ranges[2 * block] as number) / refined + 0.5)
      chainScales[at + 1] = refined
      entryBlocks[next] = block
      entryTries[next] = tried
      pointers[next] = pointers[entry] as number
      candidateScales[next] = refined
      candidateZeros[next] = zero < 0 ? 0 : zero > levels ? levels : zero
      next++
    }
    candidates = next
  }
  for (let block = 0; block < count; block++) {
    // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
    let bestScale = 1
    let bestZero = 0
    let bestError = Infinity
    for (let tried = 0; tried < tries; tried++) {
      const chain = block * tries + tried
      for (let round = 0; round < (chainLengths[chain] as number); round++) {
        const error = chainErrors[chain * rounds + round] as number
        if (error < bestError) {
          bestError = error
          bestScale = chainScales[chain * rounds + round] as number
        }
      }
    }
    if (bestError < Infinity) {
      const zero = Math.floor(-(ranges[2 * block] as number) / bestScale + 0.5)
      bestZero = zero < 0 ? 0 : zero > levels ? levels : zero
    }
    chosenScales[block] = bestScale
    chosenZeros[block] = bestZero
    scales[block] = bestScale
    zeros[block] = bestZero
  }
  kernel.finish(valuesAt, chosenScalesAt, chosenZerosAt, count, quantsAt, statisticsAt)
  quants.set(new Uint8Array(buffer, quantsAt, count * blockSize))
  statistics.set(new Float64Array(buffer, statisticsAt, count * 3))
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
