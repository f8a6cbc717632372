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
 *
 * A try's quants, error and least-squares sums are float32 arithmetic, as the WebAssembly kernel's f32x4 lanes
 * compute them: q = floor(fround(fround(x / s) + 0.5)), and value i adds to lane i mod 4 of each sum, the lanes then
 * summed as (l₀ + l₂) + (l₁ + l₃). Each float32 operation is its double-precision result rounded by Math.fround,
 * which is exact for the sum, difference, product and quotient of two float32 values.
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
  // Four float32 lanes each of Σ gap², Σ x·k and Σ k².
  const lanes = new Float32Array(12)
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
        lanes.fill(0)
        for (let at = start; at < end; at++) {
          const value = values[at] as number
          const lane = at & 3
          let quant = Math.floor(Math.fround(Math.fround(value / scale) + 0.5)) + zero
          quant = quant < 0 ? 0 : quant > levels ? levels : quant
          const level = quant - zero
          const gap = Math.fround(Math.fround(scale * level) - value)
          lanes[lane] = (lanes[lane] as number) + Math.fround(gap * gap)
          lanes[4 + lane] = (lanes[4 + lane] as number) + Math.fround(value * level)
          lanes[8 + lane] = (lanes[8 + lane] as number) + level * level
        }
        const error = Math.fround(
          Math.fround((lanes[0] as number) + (lanes[2] as number)) +
            Math.fround((lanes[1] as number) + (lanes[3] as number)),
        )
        const numerator = Math.fround(
          Math.fround((lanes[4] as number) + (lanes[6] as number)) +
            Math.fround((lanes[5] as number) + (lanes[7] as number)),
        )
        const denominator = Math.fround(
          Math.fround((lanes[8] as number) + (lanes[10] as number)) +
            Math.fround((lanes[9] as number) + (lanes[11] as number)),
        )
        if (error < bestError) {
          bestScale = scale
          bestZero = zero
          bestError = error
        }
        const refined = denominator > 0 ? Math.fround(numerator / denominator) : scale
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
      let quant = Math.floor(Math.fround(Math.fround(value / bestScale) + 0.5)) + bestZero
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
  evaluate(pointers: number, scales: number, zeros: number, lowests: number, count: number, out: number): void
  start(
    ranges: number,
    count: number,
    values: number,
    pointers: number,
    scales: number,
    zeros: number,
    lowests: number,
    blocks: number,
    orders: number,
  ): number
  choose(
    pointers: number,
    scales: number,
    zeros: number,
    lowests: number,
    results: number,
    blocks: number,
    orders: number,
    chosenScales: number,
    chosenZeros: number,
    chosenErrors: number,
    chosenOrders: number,
    count: number,
    last: number,
  ): number
  finish(
    values: number,
    scales: number,
    zeros: number,
    count: number,
    quants: number,
    statistics: number,
  ): void
  requantize(
    values: number,
    scales: number,
    zeros: number,
    count: number,
    quants: number,
    statistics: number,
    levels: number,
  ): void
}

/**
 * `fitBlocks` in the WebAssembly kernel: the same search, the same bytes. The search runs round by round over all
 * `count` blocks at once (every try's first scale, then each try's first refinement, then its second): one call
 * evaluates a round's candidates, one keeps each block's choice and lists the next round's. Each block keeps the
 * candidate that comes first in fitBlocks' order (try by try, round by round) among those of smallest error, which is
 * fitBlocks' choice whatever order the candidates were evaluated in: the candidates fitBlocks skips repeat the scale
 * of one it evaluated earlier in that order.
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
  const tries = 5
  const rounds = 3
  // The kernel's memory, in regions aligned to their elements (8 bytes at least before float64s): values, ranges,
  // the candidate table (block addresses, scales, zero points, −min(x, 0), then each entry's block and order), its
  // results, each block's choice so far (scale, zero point, error, then its order), quants and statistics. All of
  // it stays in the module's memory, since fresh pages cost a fault each on first touch.
  const entries = count * tries
  const valuesAt = 0
  const rangesAt = valuesAt + count * blockSize * 4
  const pointersAt = rangesAt + count * 16
  const candidateScalesAt = pointersAt + Math.ceil(entries / 2) * 8
  const candidateZerosAt = candidateScalesAt + entries * 8
  const candidateLowestsAt = candidateZerosAt + entries * 8
  const resultsAt = candidateLowestsAt + entries * 8
  const chosenScalesAt = resultsAt + entries * 24
  const chosenZerosAt = chosenScalesAt + count * 8
  const chosenErrorsAt = chosenZerosAt + count * 8
  const quantsAt = chosenErrorsAt + count * 8
  const statisticsAt = quantsAt + count * blockSize
  const chosenOrdersAt = statisticsAt + count * 24
  const entryBlocksAt = chosenOrdersAt + count * 4
  const entryOrdersAt = entryBlocksAt + entries * 4
  const needed = entryOrdersAt + entries * 4
  const have = kernel.memory.buffer.byteLength
  if (needed > have) kernel.memory.grow(Math.ceil((needed - have) / 65536))
  const buffer = kernel.memory.buffer
  new Float32Array(buffer, valuesAt, count * blockSize).set(values.subarray(0, count * blockSize))
  // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero. Order −1 lets no error tie with the
  // initial Infinity (fitBlocks takes only a smaller error).
  const chosenScales = new Float64Array(buffer, chosenScalesAt, count).fill(1)
  const chosenZeros = new Float64Array(buffer, chosenZerosAt, count).fill(0)
  new Float64Array(buffer, chosenErrorsAt, count).fill(Infinity)
  new Int32Array(buffer, chosenOrdersAt, count).fill(-1)
  kernel.range(valuesAt, count, rangesAt)
  const table = [pointersAt, candidateScalesAt, candidateZerosAt, candidateLowestsAt] as const
  let candidates = kernel.start(rangesAt, count, valuesAt, ...table, entryBlocksAt, entryOrdersAt)
  for (let round = 0; round < rounds && candidates > 0; round++) {
    kernel.evaluate(...table, candidates, resultsAt)
    candidates = kernel.choose(
      ...table,
      resultsAt,
      entryBlocksAt,
      entryOrdersAt,
      chosenScalesAt,
      chosenZerosAt,
      chosenErrorsAt,
      chosenOrdersAt,
      candidates,
      round + 1 === rounds ? 1 : 0,
    )
  }
  scales.set(chosenScales)
  zeros.set(chosenZeros)
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

/**
 * `requantizeBlocks` with its passes over values in the WebAssembly kernel (`range`, then `requantize`, two blocks per
 * float64 instruction): the same operations in the same precision, so the same bytes.
 */
export function requantizeBlocksSimd(
  values: Float32Array,
  quants: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  statistics: Float64Array,
  count: number,
  levels: number,
  kernel: FitKernel,
): void {
  const blockSize = 32
  // The kernel's memory: values, ranges, each block's scale and zero point (float64), quants, statistics.
  const valuesAt = 0
  const rangesAt = valuesAt + count * blockSize * 4
  const scalesAt = rangesAt + count * 16
  const zerosAt = scalesAt + count * 8
  const quantsAt = zerosAt + count * 8
  const statisticsAt = quantsAt + count * blockSize
  const needed = statisticsAt + count * 24
  const have = kernel.memory.buffer.byteLength
  if (needed > have) kernel.memory.grow(Math.ceil((needed - have) / 65536))
  const buffer = kernel.memory.buffer
  new Float32Array(buffer, valuesAt, count * blockSize).set(values.subarray(0, count * blockSize))
  kernel.range(valuesAt, count, rangesAt)
  const ranges = new Float64Array(buffer, rangesAt, count * 2)
  const blockScales = new Float64Array(buffer, scalesAt, count)
  const blockZeros = new Float64Array(buffer, zerosAt, count)
  for (let block = 0; block < count; block++) {
    const minimum = ranges[2 * block] as number
    const maximum = ranges[2 * block + 1] as number
    // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
    const scale = maximum > minimum ? Math.fround((maximum - minimum) / levels) : 1
    blockScales[block] = scale
    blockZeros[block] = Math.min(levels, Math.max(0, Math.floor(-minimum / scale + 0.5)))
  }
  kernel.requantize(valuesAt, scalesAt, zerosAt, count, quantsAt, statisticsAt, levels)
  scales.set(blockScales)
  zeros.set(blockZeros)
  quants.set(new Uint8Array(buffer, quantsAt, count * blockSize))
  // Only the largest absolute error; the kernel leaves the sums 0.
  statistics.set(new Float64Array(buffer, statisticsAt, count * 3))
}
