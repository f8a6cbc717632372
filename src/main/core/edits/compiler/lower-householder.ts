import type { Op } from '../../../../shared/edit.ts'
import type { Lowering } from './lowering.ts'
import { LoweringMath } from './lowering-math.ts'

/**
 * `householder` (HPR; METHODS.md §2.7, §2.9) per token a `[width]` with probe θ:
 *   p = θᵀa; positive iff p > 0 (sigmoid(p) rounds to 1; p = 0 counts as negative) → delta 0
 *   γ₁ = α·mask · π·sigmoid(MLP(a))    (MLP: Linear → GELU(erf) → … → Linear to a scalar)
 *   u = normalize(ȧ − cos γ₂·a) with ȧ = a − c·θ, c = 2p/θᵀθ;   â = cos γ₁·a + sin γ₁·‖a‖·u;   delta = â − a
 *
 * Since ‖ȧ‖ = ‖a‖, cos γ₂ = ȧᵀa/‖a‖² and ȧ − cos γ₂·a is ȧ's part orthogonal to a, which is −c·w with
 * w = θ − (p/‖a‖²)·a (θ's part orthogonal to a). For a negative token c ≤ 0, so u = w/‖w‖ exactly: the stable form
 * and §2.9's fallback toward the positive side are one formula. Without the division by sin γ₂ that Eq. 12 has, the
 * code's clamp of cos γ₂ has nothing to guard and is not applied (it would tilt u toward a within 4.5e-4 rad of the
 * hyperplane). A token rotates when ‖w‖ ≥ 1e-6‖θ‖ (a not parallel to θ) and a ≠ 0, else it is left unchanged:
 *   delta = (cos γ₁ − 1)·a + sin γ₁·(‖a‖/‖w‖)·w
 * which is 0 exactly when γ₁ = 0 (the gate is 0, the token is positive or degenerate) wherever it is finite; any
 * non-finite delta (a = 0 gives 0/0, ‖a‖² may overflow float32) becomes 0. Every node counts: a steered decode step
 * runs all of them for a single token.
 */

type Householder = Extract<Op, { kind: 'householder' }>

/** Relative size under which a rotation direction counts as degenerate (METHODS.md §2.9). */
const degenerate = 1e-6

/** W `[out, in]` row-major as Wᵀ `[in, out]`, the right operand of `x [batch, seq, in] · Wᵀ`. */
function transpose(weight: Float32Array, outputs: number, inputs: number): Float32Array {
  const transposed = new Float32Array(inputs * outputs)
  for (let row = 0; row < outputs; row++)
    for (let column = 0; column < inputs; column++)
      transposed[column * outputs + row] = weight[row * inputs + column] ?? 0
  return transposed
}

/** The angle network's output MLP(a), `[batch, seq, width] → [batch, seq, 1]`; GELU (erf form) between layers. */
function angleNetwork(math: LoweringMath, input: string, op: Householder): string {
  let x = input
  const layers = op.angleWidths.length - 1
  for (let layer = 0; layer < layers; layer++) {
    const inputs = op.angleWidths[layer] ?? 0
    const outputs = op.angleWidths[layer + 1] ?? 0
    const weight = math.tensor(
      `angle_${layer}_weight_t`,
      [inputs, outputs],
      transpose(op.angleWeights[layer] ?? new Float32Array(), outputs, inputs),
    )
    const bias = math.tensor(`angle_${layer}_bias`, [outputs], op.angleBiases[layer] ?? new Float32Array())
    x = math.add(math.op('MatMul', [x, weight], `angle_${layer}_linear`), bias, `angle_${layer}`)
    if (layer < layers - 1) {
      // GELU(x) = x·(1 + erf(x/√2))·0.5, as torch.nn.GELU() without approximation, in the node order ONNX
      // Runtime's optimizer fuses into one Gelu (with the bias Add before it, one BiasGelu): five nodes fewer a
      // layer of every steered decode step.
      const erf = math.op(
        'Erf',
        [math.div(x, math.scalar(Math.SQRT2), `angle_${layer}_scaled`)],
        `angle_${layer}_erf`,
      )
      const product = math.mul(
        x,
        math.add(erf, math.scalar(1), `angle_${layer}_cdf`),
        `angle_${layer}_product`,
      )
      x = math.mul(product, math.scalar(0.5), `angle_${layer}_gelu`)
    }
  }
  return x
}

export const lowerHouseholder: Lowering<'householder'> = (context, input, op) => {
  const { width } = context
  const math = new LoweringMath(context.editor, context.label, width)
  const a = input
  const probeValues = op.probe.subarray(0, width)
  let probeSquared = 0
  for (const value of probeValues) probeSquared += value * value

  // p = θᵀa, ‖a‖² [batch, seq, 1]; w = θ − (p/‖a‖²)·a [batch, seq, width]
  const p = math.op('MatMul', [a, math.tensor('probe_column', [width, 1], probeValues)], 'probe_score')
  const normSquared = math.sumOfSquares(a, 'norm_squared')
  const alongProbe = math.mul(math.div(p, normSquared, 'probe_over_norm'), a, 'probe_along_a')
  const w = math.sub(math.tensor('probe', [width], probeValues), alongProbe, 'direction')
  const directionSquared = math.sumOfSquares(w, 'direction_squared')

  // A NaN (a = 0) compares false, so such a token does not rotate either.
  const negative = math.op('LessOrEqual', [p, math.scalar(0)], 'negative')
  const floor = math.scalar(degenerate * degenerate * probeSquared)
  const usable = math.op('GreaterOrEqual', [directionSquared, floor], 'direction_usable')
  const rotates = math.op('And', [negative, usable], 'rotates')

  // γ₁ = α·mask·π·sigmoid(MLP(a)), 0 where the token does not rotate.
  const sigmoid = math.op('Sigmoid', [angleNetwork(math, a, op)], 'angle_sigmoid')
  const angle = math.where(
    rotates,
    math.mul(sigmoid, context.scaledGate(Math.PI), 'angle_full'),
    math.scalar(0),
    'angle',
  )
  const alongA = math.sub(math.op('Cos', [angle], 'cosine'), math.scalar(1), 'along_a_coefficient')
  const lengthRatio = math.op(
    'Sqrt',
    [math.div(normSquared, directionSquared, 'length_ratio_squared')],
    'length_ratio',
  )
  const alongW = math.mul(math.op('Sin', [angle], 'sine'), lengthRatio, 'along_direction_coefficient')
  const change = math.add(math.mul(alongA, a, 'along_a'), math.mul(alongW, w, 'along_direction'), 'change')
  return math.finiteOrZero(change, 'delta')
}
