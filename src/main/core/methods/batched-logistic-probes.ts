/**
 * The L2-regularized logistic probes of logistic-probe.ts for every head of a layer at once: the same Newton
 * iteration (step halving, stop when a step changes no parameter by more than the tolerance), with the Hessians
 * X̃ᵀ diag(p(1 − p)) X̃ of all heads formed by one batched float32 MatMul in ONNX Runtime (`[heads, samples, size]`
 * → `[heads, size, size]`, the O(samples · size²) part) and everything else — margins, gradient, objective, the
 * Cholesky solve — in float64 JavaScript as before.
 *
 * The fixed point is where the float64 gradient vanishes, so it is the float64 solution; the float32 Hessian only
 * perturbs the step (relative ~1e-6), which makes the last steps converge linearly at that rate instead of
 * quadratically: about one extra step.
 */
import { availableParallelism } from 'node:os'
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../onnx/builder.ts'
import { encodeModel } from '../onnx/proto.ts'
import { sessionOptions } from '../runtime/session.ts'
import { TillerError } from '../errors.ts'
import {
  objective,
  sigmoid,
  solveSymmetric,
  type LogisticProbe,
  type ProbeSamples,
} from './logistic-probe.ts'

/** features `[heads, samples, size]`, curvature `[heads, samples, 1]` → Σ_s c x̃ x̃ᵀ `[heads, size, size]`. */
function hessianGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'probe-hessians', opsets: { '': 17 } })
  builder.input('features', 'float32', ['heads', 'samples', 'size'])
  builder.input('curvature', 'float32', ['heads', 'samples', 1])
  const scaled = builder.node1({ op: 'Mul', name: 'scale', inputs: ['features', 'curvature'] })
  const transposed = builder.node1({
    op: 'Transpose',
    name: 'transpose',
    inputs: [scaled],
    attributes: { perm: [0, 2, 1] },
  })
  builder.node({ op: 'MatMul', name: 'hessians', inputs: [transposed, 'features'], outputs: ['result'] })
  builder.output('result', 'float32', ['heads', 'size', 'size'])
  return encodeModel(builder.toModel())
}

/** Settings as for fitLogisticProbe, plus the runtime's thread count. */
export interface BatchedProbeOptions {
  c?: number
  maxIterations?: number
  tolerance?: number
  threads?: number
}

/**
 * Fit one probe per entry of `heads` (all with the same labels and the same number of samples and features).
 * @returns the probes in the order of `heads`
 */
export async function fitLogisticProbes(
  heads: readonly ProbeSamples[],
  options: BatchedProbeOptions = {},
): Promise<LogisticProbe[]> {
  const first = heads[0]
  if (first === undefined) return []
  const samples = first.features.length
  const dimension = first.features[0]?.length ?? 0
  const size = dimension + 1
  for (const [index, head] of heads.entries()) {
    if (head.features.length !== samples || head.features.some((row) => row.length !== dimension)) {
      throw new TillerError(
        'shape-mismatch',
        `Batched probes: head ${index} has ${head.features.length} samples of a different shape than head 0 ` +
          `(${samples} × ${dimension}); every head of a batch must share the samples.`,
        { subject: `head ${index}` },
      )
    }
  }
  const inverseC = 1 / (options.c ?? 1)
  const maxIterations = options.maxIterations ?? 100
  const tolerance = options.tolerance ?? 1e-10
  // [heads, samples, size]: each row with a trailing 1 for the bias.
  const features = new Float32Array(heads.length * samples * size)
  heads.forEach((head, index) =>
    head.features.forEach((row, sample) => {
      const offset = (index * samples + sample) * size
      features.set(row, offset)
      features[offset + dimension] = 1
    }),
  )
  const session = await ort.InferenceSession.create(hessianGraph(), {
    ...sessionOptions('cpu'),
    intraOpNumThreads: options.threads ?? availableParallelism(),
  })
  const featureTensor = new ort.Tensor('float32', features, [heads.length, samples, size])
  const parameters: Float64Array[] = heads.map(() => new Float64Array(size))
  const current = heads.map((head, index) => objective(head, parameters[index] as Float64Array, inverseC))
  const results: Array<LogisticProbe | undefined> = heads.map(() => undefined)
  try {
    for (let iteration = 1; iteration <= maxIterations; iteration++) {
      const active = heads.flatMap((_, index) => (results[index] === undefined ? [index] : []))
      if (active.length === 0) break
      const curvature = new Float32Array(heads.length * samples)
      const gradients = new Map<number, Float64Array>()
      for (const index of active) {
        const head = heads[index] as ProbeSamples
        const weights = parameters[index] as Float64Array
        const gradient = new Float64Array(size)
        head.features.forEach((row, sample) => {
          let margin = weights[dimension] as number
          for (let column = 0; column < dimension; column++)
            margin += (weights[column] as number) * (row[column] as number)
          const probability = sigmoid(margin)
          const residual = probability - (head.labels[sample] as number)
          for (let column = 0; column < dimension; column++)
            gradient[column] = (gradient[column] as number) + residual * (row[column] as number)
          gradient[dimension] = (gradient[dimension] as number) + residual
          curvature[index * samples + sample] = probability * (1 - probability)
        })
        for (let column = 0; column < dimension; column++)
          gradient[column] = (gradient[column] as number) + inverseC * (weights[column] as number)
        gradients.set(index, gradient)
      }
      const outputs = await session.run({
        features: featureTensor,
        curvature: new ort.Tensor('float32', curvature, [heads.length, samples, 1]),
      })
      const hessians = (outputs.result as ort.Tensor).data as Float32Array
      for (const index of active) {
        const head = heads[index] as ProbeSamples
        const hessian = Float64Array.from(hessians.subarray(index * size * size, (index + 1) * size * size))
        for (let column = 0; column < dimension; column++)
          hessian[column * size + column] = (hessian[column * size + column] as number) + inverseC
        const step = solveSymmetric(hessian, gradients.get(index) as Float64Array, size)
        const weights = parameters[index] as Float64Array
        let length = 1
        let candidate = weights
        let value = current[index] as number
        for (let halving = 0; halving < 30; halving++) {
          candidate = weights.map((parameter, column) => parameter - length * (step[column] as number))
          value = objective(head, candidate, inverseC)
          if (value <= (current[index] as number)) break
          length /= 2
        }
        const change = step.reduce((largest, entry) => Math.max(largest, Math.abs(entry * length)), 0)
        parameters[index] = candidate
        current[index] = value
        if (change < tolerance) {
          results[index] = {
            weights: candidate.slice(0, dimension),
            bias: candidate[dimension] as number,
            iterations: iteration,
            converged: true,
          }
        }
      }
    }
  } finally {
    await session.release()
  }
  return results.map(
    (result, index) =>
      result ?? {
        weights: (parameters[index] as Float64Array).slice(0, dimension),
        bias: (parameters[index] as Float64Array)[dimension] as number,
        iterations: maxIterations,
        converged: false,
      },
  )
}
