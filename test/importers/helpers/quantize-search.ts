/**
 * The scale searches behind ggml's reference K-quant and IQ4 encoders (quantize_row_*_ref in ggml-quants.c),
 * re-expressed for the test quantizers: given a group of values, choose a scale (and for the affine types a
 * minimum) and the integer levels that minimise a weighted squared or absolute error. They run in double
 * precision, so the bytes can differ from llama-quantize's in rare ties; the decode they are tested against does
 * not depend on how the levels were chosen.
 */

/** Round to the nearest integer, ties to even (ggml's nearest_int under the default rounding mode). */
export function nearestInt(value: number): number {
  const rounded = Math.round(value)
  return rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded
}

function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(high, value))
}

/**
 * Affine levels 0..maximumLevel for value ≈ scale * level - minimum (make_qkx2_quants): start from the range,
 * then try `steps` + 1 stretched grids and keep the least-squares scale/minimum of the best one.
 * Writes the levels into `levels` and returns the scale and the (non-negative) minimum.
 */
export function affineLevels(
  values: Float32Array,
  weights: Float64Array,
  maximumLevel: number,
  levels: Uint8Array,
  search: { start: number; delta: number; steps: number; absoluteError: boolean },
): { scale: number; minimum: number } {
  const count = values.length
  let low = Math.min(...values)
  const high = Math.max(...values)
  let weightSum = 0
  let weightedSum = 0
  for (let index = 0; index < count; index++) {
    weightSum += weights[index] as number
    weightedSum += (weights[index] as number) * (values[index] as number)
  }
  if (low > 0) low = 0
  if (high === low) {
    levels.fill(0, 0, count)
    return { scale: 0, minimum: -low }
  }
  const errorOf = (scale: number, offset: number, candidate: ArrayLike<number>): number => {
    let total = 0
    for (let index = 0; index < count; index++) {
      const difference = scale * (candidate[index] as number) + offset - (values[index] as number)
      total +=
        (weights[index] as number) * (search.absoluteError ? Math.abs(difference) : difference * difference)
    }
    return total
  }
  let inverse = maximumLevel / (high - low)
  let scale = 1 / inverse
  for (let index = 0; index < count; index++) {
    levels[index] = clamp(nearestInt(inverse * ((values[index] as number) - low)), 0, maximumLevel)
  }
  let bestError = errorOf(scale, low, levels)
  const trial = new Uint8Array(count)
  for (let step = 0; step <= search.steps; step++) {
    inverse = (search.start + search.delta * step + maximumLevel) / (high - low)
    let levelSum = 0
    let levelSquares = 0
    let crossSum = 0
    for (let index = 0; index < count; index++) {
      const level = clamp(nearestInt(inverse * ((values[index] as number) - low)), 0, maximumLevel)
      trial[index] = level
      const weight = weights[index] as number
      levelSum += weight * level
      levelSquares += weight * level * level
      crossSum += weight * level * (values[index] as number)
    }
    const determinant = weightSum * levelSquares - levelSum * levelSum
    if (determinant <= 0) continue
    let trialScale = (weightSum * crossSum - weightedSum * levelSum) / determinant
    let trialOffset = (levelSquares * weightedSum - levelSum * crossSum) / determinant
    if (trialOffset > 0) {
      trialOffset = 0
      trialScale = crossSum / levelSquares
    }
    const trialError = errorOf(trialScale, trialOffset, trial)
    if (trialError < bestError) {
      levels.set(trial)
      bestError = trialError
      scale = trialScale
      low = trialOffset
    }
  }
  return { scale, minimum: -low }
}

/**
 * Levels for value ≈ scale * (level - half), level in 0..2 half - 1 (make_qx_quants with x² weights, as Q6_K
 * uses): the largest magnitude maps to level 0, then 18 nearby grids are tried and the best least-squares scale
 * kept. An all-zero group gets levels 0, as in ggml.
 */
export function symmetricLevels(values: Float32Array, half: number, levels: Uint8Array): number {
  let extreme = 0
  for (const value of values) if (Math.abs(value) > Math.abs(extreme)) extreme = value
  if (Math.abs(extreme) < 1e-15) {
    levels.fill(0)
    return 0
  }
  const trial = new Uint8Array(values.length)
  const fit = (inverse: number) => {
    let cross = 0
    let squares = 0
    for (let index = 0; index < values.length; index++) {
      const value = values[index] as number
      const level = clamp(nearestInt(inverse * value), -half, half - 1)
      trial[index] = level + half
      cross += value * value * value * level
      squares += value * value * level * level
    }
    return { cross, squares }
  }
  const first = fit(-half / extreme)
  levels.set(trial)
  let scale = first.squares > 0 ? first.cross / first.squares : 0
  let best = scale * first.cross
  for (let step = -9; step <= 9; step++) {
    if (step === 0) continue
    const { cross, squares } = fit(-(half + 0.1 * step) / extreme)
    if (squares > 0 && cross * cross > best * squares) {
      levels.set(trial)
      scale = cross / squares
      best = scale * cross
    }
  }
  return scale
}

/**
 * 3-bit levels 0..7 for value ≈ scale * (level - 4) (make_q3_quants with x² weights): an initial grid, then up
 * to five passes that move single levels when that raises the fit. Returns the scale; an all-zero group gets
 * levels 0, as in ggml.
 */
export function threeBitLevels(values: Float32Array, stored: Uint8Array): number {
  let extreme = 0
  for (const value of values) if (Math.abs(value) > Math.abs(extreme)) extreme = value
  if (Math.abs(extreme) < 1e-15) {
    stored.fill(0)
    return 0
  }
  const levels = new Int8Array(values.length)
  const inverse = -4 / extreme
  let cross = 0
  let squares = 0
  values.forEach((value, index) => {
    const level = clamp(nearestInt(inverse * value), -4, 3)
    levels[index] = level
    cross += value * value * value * level
    squares += value * value * level * level
  })
  for (let pass = 0; pass < 5; pass++) {
    let changed = 0
    values.forEach((value, index) => {
      const weight = value * value
      const old = levels[index] as number
      const partialCross = cross - weight * value * old
      if (partialCross <= 0) return
      const partialSquares = squares - weight * old * old
      const level = clamp(nearestInt((value * partialSquares) / partialCross), -4, 3)
      if (level === old) return
      const newCross = partialCross + weight * value * level
      const newSquares = partialSquares + weight * level * level
      if (newSquares > 0 && newCross * newCross * squares > cross * cross * newSquares) {
        levels[index] = level
        cross = newCross
        squares = newSquares
        changed++
      }
    })
    if (changed === 0) break
  }
  levels.forEach((level, index) => (stored[index] = level + 4))
  return squares > 0 ? cross / squares : 0
}

/** The index of the codebook entry nearest `value` (codebook ascending), ties to the lower one. */
export function nearestCodebookIndex(codebook: Int8Array, value: number): number {
  const last = codebook.length - 1
  if (value <= (codebook[0] as number)) return 0
  if (value >= (codebook[last] as number)) return last
  let low = 0
  let high = last
  while (high - low > 1) {
    const middle = (low + high) >> 1
    if (value < (codebook[middle] as number)) high = middle
    else low = middle
  }
  return value - (codebook[high - 1] as number) < (codebook[high] as number) - value ? high - 1 : high
}
