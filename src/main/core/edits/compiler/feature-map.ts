import type { Op } from '../../../../shared/edit.ts'
import { float } from '../../onnx/builder.ts'
import type { LoweringMath } from './lowering-math.ts'

/**
 * Φ-SEA's element-wise feature maps and the "inverses" the released code uses (METHODS.md §1.8), as graph nodes.
 * Every inverse is finite for every finite input, so SEA never produces NaN or ±Inf from a finite activation:
 *   squared-exponential (ℓ = 1)  φ(x) = exp(−x²/2) ∈ [0, 1]   φ⁻¹(y) = −2·ln(max(y, 1e-4))  (returns x², ≤ 18.43)
 *   tanh                         φ(x) = tanh(x)               φ⁻¹(y) = atanh(clamp(y, −1+1e-4, 1−1e-4))  (|·| ≤ 4.95)
 *   ELU (α = 1)                  φ(x) = x ≥ 0 ? x : eˣ − 1    φ⁻¹(y) = y ≥ 0 ? y : ln(max(y, −1+1e-4) + 1)
 * Both branches of a Where are computed; the ELU inverse's unused branch is finite too (ln of at least 1e-4).
 */

export type FeatureMap = Extract<Op, { kind: 'spectral' }>['phi']

const squaredExponentialFloor = 1e-4
const tanhLimit = 1 - 1e-4
const eluFloor = -1 + 1e-4

/** φ(x), element-wise. */
export function applyFeatureMap(math: LoweringMath, phi: FeatureMap, x: string, step: string): string {
  switch (phi) {
    case 'identity':
      return x
    case 'squared-exponential': {
      const square = math.mul(x, x, `${step}_square`)
      return math.op('Exp', [math.mul(square, math.scalar(-0.5), `${step}_exponent`)], step)
    }
    case 'tanh':
      return math.op('Tanh', [x], step)
    case 'elu':
      return math.op('Elu', [x], step, { alpha: float(1) })
  }
}

/** φ⁻¹(y), element-wise, with the clamps above. */
export function invertFeatureMap(math: LoweringMath, phi: FeatureMap, y: string, step: string): string {
  switch (phi) {
    case 'identity':
      return y
    case 'squared-exponential': {
      const floored = math.op('Max', [y, math.scalar(squaredExponentialFloor)], `${step}_floor`)
      return math.mul(math.op('Log', [floored], `${step}_log`), math.scalar(-2), step)
    }
    case 'tanh': {
      const clamped = math.op(
        'Min',
        [math.op('Max', [y, math.scalar(-tanhLimit)], `${step}_low`), math.scalar(tanhLimit)],
        `${step}_clamp`,
      )
      return math.op('Atanh', [clamped], step)
    }
    case 'elu': {
      const floored = math.op('Max', [y, math.scalar(eluFloor)], `${step}_floor`)
      const negative = math.op('Log', [math.add(floored, math.scalar(1), `${step}_shift`)], `${step}_log`)
      const nonNegative = math.op('GreaterOrEqual', [y, math.scalar(0)], `${step}_sign`)
      return math.where(nonNegative, y, negative, step)
    }
  }
}
