/**
 * L2-regularized logistic regression with an intercept, solved by Newton's method (IRLS) in float64: the
 * solution sklearn's `LogisticRegression()` (C = 1, lbfgs) converges to, since the objective is strictly convex.
 *
 *   minimize  C · Σᵢ log(1 + exp(−ỹᵢ (wᵀxᵢ + b))) + ½‖w‖²      (ỹ = ±1; the intercept is not penalized)
 *
 * ITI fits one probe per attention head on headDim features (METHODS.md §5.2). A Newton step costs
 * O(samples · features²) and O(features³) for the solve, so a 32–128-feature probe over a few hundred demonstrations
 * converges in ~10 steps. At a real model's size (1024 heads of 128 features over 2000 samples) the Hessians
 * dominate and this loop needs about a second per head; batched-logistic-probes.ts forms them for all heads of a
 * layer in one ONNX Runtime product and reaches the same solution.
 */

/** A fitted probe: p(label 1 | x) = sigmoid(wᵀx + bias). */
export interface LogisticProbe {
  weights: Float64Array
  bias: number
  /** Newton steps taken. */
  iterations: number
  converged: boolean
}

/** The rows of a probe's training or evaluation set: `features[i]` is `[dimension]`, `labels[i]` is 0 or 1. */
export interface ProbeSamples {
  features: Float64Array[]
  labels: Uint8Array
}

function logOnePlusExp(value: number): number {
  return value > 0 ? value + Math.log1p(Math.exp(-value)) : Math.log1p(Math.exp(value))
}

/** σ(x), stable for large |x|. */
export function sigmoid(value: number): number {
  return value >= 0 ? 1 / (1 + Math.exp(-value)) : Math.exp(value) / (1 + Math.exp(value))
}

/** The objective above at weights `[dimension + 1]` (bias last). */
export function objective(samples: ProbeSamples, parameters: Float64Array, inverseC: number): number {
  const dimension = parameters.length - 1
  let total = 0
  samples.features.forEach((row, sample) => {
    let margin = parameters[dimension] as number
    for (let index = 0; index < dimension; index++)
      margin += (parameters[index] as number) * (row[index] as number)
    total += logOnePlusExp(samples.labels[sample] === 1 ? -margin : margin)
  })
  let norm = 0
  for (let index = 0; index < dimension; index++) norm += (parameters[index] as number) ** 2
  return total + 0.5 * inverseC * norm
}

/** Solve `matrix · x = vector` for a symmetric positive definite `[size, size]` matrix (Cholesky), in place. */
export function solveSymmetric(matrix: Float64Array, vector: Float64Array, size: number): Float64Array {
  for (let column = 0; column < size; column++) {
    let diagonal = matrix[column * size + column] as number
    for (let inner = 0; inner < column; inner++) diagonal -= (matrix[column * size + inner] as number) ** 2
    // The penalty keeps the weight block positive definite; a saturated intercept row is the only way to lose it.
    const root = Math.sqrt(Math.max(diagonal, 1e-12))
    matrix[column * size + column] = root
    for (let row = column + 1; row < size; row++) {
      let value = matrix[row * size + column] as number
      for (let inner = 0; inner < column; inner++)
        value -= (matrix[row * size + inner] as number) * (matrix[column * size + inner] as number)
      matrix[row * size + column] = value / root
    }
  }
  const solution = Float64Array.from(vector)
  for (let row = 0; row < size; row++) {
    let value = solution[row] as number
    for (let inner = 0; inner < row; inner++)
      value -= (matrix[row * size + inner] as number) * (solution[inner] as number)
    solution[row] = value / (matrix[row * size + row] as number)
  }
  for (let row = size - 1; row >= 0; row--) {
    let value = solution[row] as number
    for (let inner = row + 1; inner < size; inner++)
      value -= (matrix[inner * size + row] as number) * (solution[inner] as number)
    solution[row] = value / (matrix[row * size + row] as number)
  }
  return solution
}

/**
 * Fit a probe on `samples` with inverse regularization strength `c` (sklearn's C). Newton steps with step
 * halving until the step's largest change is below `tolerance` (or `maxIterations`).
 */
export function fitLogisticProbe(
  samples: ProbeSamples,
  options: { c?: number; maxIterations?: number; tolerance?: number } = {},
): LogisticProbe {
  const dimension = samples.features[0]?.length ?? 0
  const size = dimension + 1
  const inverseC = 1 / (options.c ?? 1)
  const maxIterations = options.maxIterations ?? 100
  const tolerance = options.tolerance ?? 1e-10
  let parameters = new Float64Array(size)
  let current = objective(samples, parameters, inverseC)
  const extended = new Float64Array(size)
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    // Gradient and Hessian over [w, b]: Σ (p − y)·x̃ + w/C and Σ p(1 − p)·x̃x̃ᵀ + I/C (bias row unpenalized).
    const gradient = new Float64Array(size)
    const hessian = new Float64Array(size * size)
    samples.features.forEach((row, sample) => {
      extended.set(row)
      extended[dimension] = 1
      let margin = 0
      for (let index = 0; index < size; index++)
        margin += (parameters[index] as number) * (extended[index] as number)
      const probability = sigmoid(margin)
      const residual = probability - (samples.labels[sample] as number)
      const curvature = probability * (1 - probability)
      for (let first = 0; first < size; first++) {
        const value = extended[first] as number
        gradient[first] = (gradient[first] as number) + residual * value
        const scaled = curvature * value
        for (let second = 0; second <= first; second++)
          hessian[first * size + second] =
            (hessian[first * size + second] as number) + scaled * (extended[second] as number)
      }
    })
    for (let index = 0; index < dimension; index++) {
      gradient[index] = (gradient[index] as number) + inverseC * (parameters[index] as number)
      hessian[index * size + index] = (hessian[index * size + index] as number) + inverseC
    }
    for (let first = 0; first < size; first++)
      for (let second = first + 1; second < size; second++)
        hessian[first * size + second] = hessian[second * size + first] as number
    const step = solveSymmetric(hessian, gradient, size)
    let length = 1
    let candidate = parameters
    let value = current
    // Newton on a convex objective rarely overshoots; halving guards the first steps from a cold start.
    for (let halving = 0; halving < 30; halving++) {
      candidate = parameters.map((parameter, index) => parameter - length * (step[index] as number))
      value = objective(samples, candidate, inverseC)
      if (value <= current) break
      length /= 2
    }
    const change = step.reduce((largest, entry) => Math.max(largest, Math.abs(entry * length)), 0)
    parameters = candidate
    current = value
    if (change < tolerance) {
      return {
        weights: parameters.slice(0, dimension),
        bias: parameters[dimension] as number,
        iterations: iteration,
        converged: true,
      }
    }
  }
  return {
    weights: parameters.slice(0, dimension),
    bias: parameters[dimension] as number,
    iterations: maxIterations,
    converged: false,
  }
}

/** Share of `samples` the probe classifies right (score > 0 ⇒ label 1). */
export function probeAccuracy(probe: LogisticProbe, samples: ProbeSamples): number {
  if (samples.features.length === 0) return Number.NaN
  let correct = 0
  samples.features.forEach((row, sample) => {
    let margin = probe.bias
    row.forEach((value, index) => (margin += (probe.weights[index] as number) * value))
    if ((margin > 0 ? 1 : 0) === samples.labels[sample]) correct++
  })
  return correct / samples.features.length
}
