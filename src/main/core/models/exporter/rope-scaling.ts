import { TillerError } from '../../errors.ts'
import type { LlamaConfig, RopeScaling } from '../checkpoint.ts'

/**
 * The divisor of each RoPE frequency under `scaling` (`[headDim / 2]`, all 1 without scaling). Frequency i is
 * θ^(-2i/headDim) / divisor[i]. For 'llama3' this is Hugging Face's _compute_llama3_parameters written as a
 * divisor: wavelength 2π/frequency below original/highFrequencyFactor keeps its frequency, above
 * original/lowFrequencyFactor is divided by factor, and between them the inverse frequency blends
 * (1 − smooth)/factor + smooth with smooth = (original/wavelength − low)/(high − low).
 */
export function ropeFrequencyDivisors(config: LlamaConfig): Float64Array {
  const half = config.headDim / 2
  const scaling: RopeScaling | undefined = config.ropeScaling
  const divisors = new Float64Array(half).fill(1)
  if (scaling === undefined) return divisors
  if (scaling.type === 'linear') return divisors.fill(scaling.factor)
  if (scaling.type === 'frequency-factors') {
    if (scaling.factors.length !== half || scaling.factors.some((factor) => !(factor > 0))) {
      throw new TillerError(
        'shape-mismatch',
        `ropeScaling.factors has ${scaling.factors.length} entries (or a non-positive one) but a head size of ` +
          `${config.headDim} needs ${half} positive divisors, one per RoPE frequency.`,
        { subject: 'ropeScaling.factors' },
      )
    }
    divisors.set(scaling.factors)
    return divisors
  }
  const { factor, lowFrequencyFactor, highFrequencyFactor, originalMaxPositionEmbeddings } = scaling
  const longWavelength = originalMaxPositionEmbeddings / lowFrequencyFactor
  const shortWavelength = originalMaxPositionEmbeddings / highFrequencyFactor
  for (let i = 0; i < half; i++) {
    const wavelength = (2 * Math.PI) / config.ropeTheta ** ((-2 * i) / config.headDim)
    if (wavelength < shortWavelength) continue
    if (wavelength > longWavelength) {
      divisors[i] = factor
      continue
    }
    const smooth =
      (originalMaxPositionEmbeddings / wavelength - lowFrequencyFactor) /
      (highFrequencyFactor - lowFrequencyFactor)
    divisors[i] = 1 / ((1 - smooth) / factor + smooth)
  }
  return divisors
}
