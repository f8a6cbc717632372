/**
 * Vectors as values: pure arithmetic on Float32Array `[width]` vectors (STYLE.md principle 9).
 *
 * Every function returns a new array and never mutates its arguments, so identities such as
 * `add(v, scale(v, -1))` = 0 and `scale(v, 0)` = 0 hold exactly. Reductions (dot, norm) accumulate in float64.
 */

function checkWidths(left: Float32Array, right: Float32Array, operation: string): void {
  if (left.length !== right.length) {
    throw new RangeError(`${operation}: vector widths differ (${left.length} vs ${right.length})`)
  }
}

/** Element-wise sum `a + b`, both `[width]`. */
export function add(a: Float32Array, b: Float32Array): Float32Array {
  checkWidths(a, b, 'add')
  const result = new Float32Array(a.length)
  for (let index = 0; index < a.length; index++) result[index] = (a[index] as number) + (b[index] as number)
  return result
}

/** Element-wise difference `a − b`, both `[width]`. */
export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  checkWidths(a, b, 'subtract')
  const result = new Float32Array(a.length)
  for (let index = 0; index < a.length; index++) result[index] = (a[index] as number) - (b[index] as number)
  return result
}

/** `factor · v`, `[width]`. */
export function scale(v: Float32Array, factor: number): Float32Array {
  const result = new Float32Array(v.length)
  for (let index = 0; index < v.length; index++) result[index] = (v[index] as number) * factor
  return result
}

/** `−v`, `[width]` (exact: only the sign bits change). */
export function negate(v: Float32Array): Float32Array {
  const result = new Float32Array(v.length)
  for (let index = 0; index < v.length; index++) result[index] = -(v[index] as number)
  return result
}

/** Inner product of two `[width]` vectors, accumulated in float64. */
export function dot(a: Float32Array, b: Float32Array): number {
  checkWidths(a, b, 'dot')
  let sum = 0
  for (let index = 0; index < a.length; index++) sum += (a[index] as number) * (b[index] as number)
  return sum
}

/** Euclidean norm of a `[width]` vector, accumulated in float64. */
export function norm(v: Float32Array): number {
  return Math.sqrt(dot(v, v))
}

/** `v / ‖v‖`, `[width]`; a zero vector has no direction and throws. */
export function normalize(v: Float32Array): Float32Array {
  const length = norm(v)
  if (!(length > 0) || !Number.isFinite(length))
    throw new RangeError('normalize: the vector has no direction')
  return scale(v, 1 / length)
}

/** Cosine of the angle between two `[width]` vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  return dot(a, b) / (norm(a) * norm(b))
}

/** Sum of several `[width]` vectors (float64 accumulation), e.g. composing edits at one layer. */
export function sum(vectors: readonly Float32Array[], width: number): Float32Array {
  const total = new Float64Array(width)
  for (const vector of vectors) {
    if (vector.length !== width) throw new RangeError(`sum: vector width ${vector.length}, expected ${width}`)
    for (let index = 0; index < width; index++)
      total[index] = (total[index] as number) + (vector[index] as number)
  }
  return Float32Array.from(total)
}

/**
 * `v − (v·u)u`: `v` `[width]` with its component along the unit vector `u` `[width]` removed (directional
 * ablation's reference formula; `u` must have norm 1).
 */
export function removeComponent(v: Float32Array, u: Float32Array): Float32Array {
  const projection = dot(v, u)
  const result = new Float32Array(v.length)
  for (let index = 0; index < v.length; index++)
    result[index] = (v[index] as number) - projection * (u[index] as number)
  return result
}
