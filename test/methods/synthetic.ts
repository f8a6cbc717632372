/**
 * Synthetic activations for method hand cases: a seeded generator and an ActivationSet builder.
 */
import type { ActivationSet, PositionSelector } from '../../src/shared/activations.ts'
import type { HookSite, ModelFingerprint } from '../../src/shared/edit.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

/** A small deterministic PRNG (mulberry32) with a Gaussian draw, so every run sees the same data. */
export function random(seed: number): { uniform(): number; gaussian(): number } {
  let state = seed >>> 0
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform())
  return { uniform, gaussian }
}

/** A random unit vector `[width]`. */
export function unitVector(width: number, seed: number): Float32Array {
  const draw = random(seed)
  const vector = Float32Array.from({ length: width }, () => draw.gaussian())
  const length = Math.hypot(...vector)
  return vector.map((value) => value / length)
}

/** The fingerprint synthetic sets carry: a 4-block model (width set per set). */
export const fingerprint: ModelFingerprint = testFingerprint(4, 8)

/** What `activationSet` takes: the set's own fields; ids, data hash and fingerprint are filled in. */
export type ActivationSetFields = Omit<ActivationSet, 'exampleIds' | 'dataHash' | 'model'> & {
  model?: ModelFingerprint
}

/** Wrap per-layer `[rows, width]` matrices as an ActivationSet. */
export function activationSet(options: ActivationSetFields): ActivationSet {
  return {
    exampleIds: Array.from(
      { length: options.rowsPerPair?.length ?? options.rows },
      (_, index) => `pair-${index}`,
    ),
    dataHash: 'c'.repeat(64),
    model: options.model ?? { ...fingerprint, hiddenSize: options.width },
    ...options,
  }
}

/**
 * One captured layer: `positive` and `negative` are `[rows, width]`, rows read off their length.
 * @returns an ActivationSet with `layers: [layer]`
 */
export function layerSet(options: {
  site: HookSite
  selector: PositionSelector
  layer: number
  width: number
  positive: Float32Array
  negative: Float32Array
  rowsPerPair?: number[]
}): ActivationSet {
  const { layer, positive, negative, ...rest } = options
  return activationSet({
    ...rest,
    layers: [layer],
    positive: [positive],
    negative: [negative],
    rows: positive.length / options.width,
  })
}

/**
 * The repeng hand case (METHODS.md §7.4): h⁺_i = b + c_i v + ε, h⁻_i = b − c_i v + ε' with varying c_i > 0.
 * @returns positive and negative `[rows, width]`
 */
export function contrastAlong(
  direction: Float32Array,
  rows: number,
  seed: number,
  noise = 0.05,
): { positive: Float32Array; negative: Float32Array } {
  const width = direction.length
  const draw = random(seed)
  const base = Float32Array.from({ length: width }, () => 3 * draw.gaussian())
  const positive = new Float32Array(rows * width)
  const negative = new Float32Array(rows * width)
  for (let row = 0; row < rows; row++) {
    const strength = 0.5 + 2.5 * draw.uniform()
    for (let column = 0; column < width; column++) {
      const along = strength * (direction[column] as number)
      positive[row * width + column] = (base[column] as number) + along + noise * draw.gaussian()
      negative[row * width + column] = (base[column] as number) - along + noise * draw.gaussian()
    }
  }
  return { positive, negative }
}

/**
 * The hand case at one layer: a random unit `direction` `[width]` (drawn with `seed`) and `rows` pairs contrasting
 * along it (drawn with `seed + 1`), wrapped as a one-layer set.
 */
export function contrastCase(options: {
  site: HookSite
  selector: PositionSelector
  layer: number
  width: number
  rows: number
  seed: number
}): { direction: Float32Array; positive: Float32Array; negative: Float32Array; activations: ActivationSet } {
  const { site, selector, layer, width, rows, seed } = options
  const direction = unitVector(width, seed)
  const { positive, negative } = contrastAlong(direction, rows, seed + 1)
  const activations = layerSet({ site, selector, layer, width, positive, negative })
  return { direction, positive, negative, activations }
}
