import type { Op } from '../../../../shared/edit.ts'
import type { Lowering } from './lowering.ts'
import { LoweringMath } from './lowering-math.ts'

/**
 * `householder` (HPR; METHODS.md §2.7, §2.9) per token a `[width]` with probe θ:
 *   p = θᵀa; positive iff p > 0 (sigmoid(p) rounds to 1; p = 0 counts as negative) → delta 0
 *   γ₁ = α·mask · π·sigmoid(MLP(a))    (MLP: Linear → GELU(erf) → … → Linear to a scalar)
 *   ȧ = a − c·θ with c = 2p/θᵀθ;  cos γ₂ = clamp(cos(ȧ, a), −1+1e-7, 1−1e-7)
 *   u = normalize(ȧ − cos γ₂·a);   â = cos γ₁·a + sin γ₁·‖a‖·u
 *   delta = â − a for negative tokens
 * Fallbacks: when ‖ȧ − cos γ₂·a‖ < 1e-6‖a‖ (a on the hyperplane), u = normalize(θ − (p/‖a‖²)a), rotating toward
 * the positive side; when that is degenerate too (a ∥ θ) or a = 0, a is left unchanged.
 *
 * Two exact rewrites keep float32 accurate and strength 0 exact: since ‖ȧ‖ = ‖a‖ (H is orthogonal),
 * cos(ȧ, a) = 1 − c·p/‖a‖², so ȧ − cos γ₂·a = (1 − cos γ₂)·a − c·θ with 1 − cos γ₂ = clamp(c·p/‖a‖², 1e-7, 2 − 1e-7)
 * (no cancellation between two near-equal vectors); and â − a = −2 sin²(γ₁/2)·a + sin γ₁·‖a‖·u, which is 0 exactly
 * when γ₁ = 0 (the gate is 0) because u is finite wherever it is selected. Any non-finite change (overflow of
 * ‖a‖²) becomes 0.
 */

type Householder = Extract<Op, { kind: 'householder' }>

/** Relative size under which a rotation direction counts as degenerate (METHODS.md §2.9). */
const degenerate = 1e-6
/** The arccos clamp of HPR's angle: cos γ₂ ∈ [−1 + 1e-7, 1 − 1e-7]. */
const cosineMargin = 1e-7

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

/** Per-token quantities of one activation a `[batch, seq, width]` (each `[batch, seq, 1]`). */
interface TokenTerms {
  a: string
  /** p = θᵀa */
  p: string
  /** c = 2p/θᵀθ, so ȧ = a − c·θ */
  c: string
  norm: string
  normSquared: string
}

/**
 * The unit rotation direction u `[batch, seq, width]` (0 where none exists) and whether the token can rotate:
 * v = (1 − cos γ₂)·a − c·θ with 1 − cos γ₂ = clamp(c·p/‖a‖², 1e-7, 2 − 1e-7), else w = θ − (p/‖a‖²)·a.
 * Each is used only where its norm is at least 1e-6 of ‖a‖ (resp. ‖θ‖) and a ≠ 0, so u is finite everywhere.
 */
function rotationDirection(
  math: LoweringMath,
  terms: TokenTerms,
  probe: string,
  probeNorm: number,
): { unit: string; rotatable: string } {
  const { a, p, c, norm, normSquared } = terms
  const aNonzero = math.op('Greater', [norm, math.scalar(0)], 'a_nonzero')
  const usable = (vector: string, floor: string, step: string): { unit: string; usable: string } => {
    const length = math.norm(vector, `${step}_norm`)
    const large = math.op('GreaterOrEqual', [length, floor], `${step}_large`)
    return {
      unit: math.div(vector, length, `${step}_unit`),
      usable: math.op('And', [aNonzero, large], `${step}_usable`),
    }
  }
  const ratio = math.div(math.mul(c, p, 'cp'), normSquared, 'one_minus_cos_raw')
  const low = math.op('Max', [ratio, math.scalar(cosineMargin)], 'one_minus_cos_low')
  const oneMinusCosine = math.op('Min', [low, math.scalar(2 - cosineMargin)], 'one_minus_cos')
  const direction = usable(
    math.sub(
      math.mul(oneMinusCosine, a, 'direction_along_a'),
      math.mul(c, probe, 'direction_along_probe'),
      'direction',
    ),
    math.mul(norm, math.scalar(degenerate), 'direction_floor'),
    'direction',
  )
  const fallback = usable(
    math.sub(
      probe,
      math.mul(math.div(p, normSquared, 'fallback_coefficient'), a, 'fallback_along_a'),
      'fallback',
    ),
    math.scalar(degenerate * probeNorm),
    'fallback',
  )
  const zero = math.scalar(0)
  const unit = math.where(
    direction.usable,
    direction.unit,
    math.where(fallback.usable, fallback.unit, zero, 'fallback_or_zero'),
    'unit',
  )
  return { unit, rotatable: math.op('Or', [direction.usable, fallback.usable], 'rotatable') }
}

export const lowerHouseholder: Lowering<'householder'> = (context, input, op) => {
  const { width } = context
  const math = new LoweringMath(context.editor, context.label, width)
  const a = input
  const probeValues = op.probe.subarray(0, width)
  let probeSquared = 0
  for (const value of probeValues) probeSquared += value * value
  const probe = math.tensor('probe', [width], probeValues)
  const probeColumn = math.tensor('probe_column', [width, 1], probeValues)

  // p = θᵀa; c = 2p/θᵀθ (check-edits keeps θᵀθ in [1e-30, 1e30]).
  const p = math.op('MatMul', [a, probeColumn], 'probe_score')
  const positive = math.op('Greater', [p, math.scalar(0)], 'positive')
  const c = math.mul(p, math.scalar(2 / probeSquared), 'reflection_coefficient')
  const normSquared = math.dot(a, a, 'norm_squared')
  const norm = math.op('Sqrt', [normSquared], 'norm')
  const { unit, rotatable } = rotationDirection(
    math,
    { a, p, c, norm, normSquared },
    probe,
    Math.sqrt(probeSquared),
  )

  // γ₁ = α·mask·π·sigmoid(MLP(a)); â − a = −2 sin²(γ₁/2)·a + sin γ₁·‖a‖·u.
  const sigmoid = math.op('Sigmoid', [angleNetwork(math, a, op)], 'angle_sigmoid')
  const angle = math.mul(context.gate, math.mul(sigmoid, math.scalar(Math.PI), 'angle_full'), 'angle')
  const halfSine = math.op('Sin', [math.mul(angle, math.scalar(0.5), 'half_angle')], 'half_sine')
  const alongA = math.mul(
    math.mul(halfSine, halfSine, 'half_sine_squared'),
    math.scalar(-2),
    'along_a_coefficient',
  )
  const alongUnit = math.mul(math.op('Sin', [angle], 'sine'), norm, 'along_unit_coefficient')
  const change = math.add(math.mul(alongA, a, 'along_a'), math.mul(alongUnit, unit, 'along_unit'), 'change')
  const zero = math.scalar(0)
  const negativeChange = math.where(rotatable, change, zero, 'change_rotatable')
  return math.where(positive, zero, math.finiteOrZero(negativeChange, 'change_finite'), 'delta')
}
