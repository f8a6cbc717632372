import { describe, expect, it } from 'vitest'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { fitEdit, methods } from '../../src/main/core/methods/index.ts'
import { defaultTopHeads, splitPairs } from '../../src/main/core/methods/iti.ts'
import { fitLogisticProbe } from '../../src/main/core/methods/logistic-probe.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { activationSet, random, unitVector } from './synthetic.ts'

const heads = 3
const headDim = 4
const width = heads * headDim

/**
 * Two layers (1 and 3) of 3 heads × 4 dims, unit Gaussian noise everywhere; each planted head gets +shift·u on
 * the positive side and −shift·u on the negative side along its own unit vector u.
 */
function plantedSet(
  planted: Array<{ layerIndex: number; head: number }>,
  options: { pairs?: number; shift?: number; seed?: number } = {},
): ActivationSet {
  const pairs = options.pairs ?? 40
  const shift = options.shift ?? 5
  const draw = random(options.seed ?? 7)
  const layers = [1, 3]
  const positive = layers.map(() => Float32Array.from({ length: pairs * width }, () => draw.gaussian()))
  const negative = layers.map(() => Float32Array.from({ length: pairs * width }, () => draw.gaussian()))
  planted.forEach(({ layerIndex, head }, index) => {
    const direction = unitVector(headDim, 100 + index)
    const plantedPositive = positive[layerIndex] as Float32Array
    const plantedNegative = negative[layerIndex] as Float32Array
    for (let pair = 0; pair < pairs; pair++) {
      for (let dimension = 0; dimension < headDim; dimension++) {
        const offset = pair * width + head * headDim + dimension
        const along = shift * (direction[dimension] as number)
        plantedPositive[offset] = (plantedPositive[offset] as number) + along
        plantedNegative[offset] = (plantedNegative[offset] as number) - along
      }
    }
  })
  return activationSet({
    site: 'attn_heads',
    selector: 'last',
    layers,
    width,
    heads,
    positive,
    negative,
    rows: pairs,
  })
}

/** Heads an ITI edit touches, as "layer:head", from the non-zero slices of its vectors. */
function editedHeads(interventions: Awaited<ReturnType<typeof fitEdit>>['edit']['interventions']): string[] {
  return interventions.flatMap((intervention) => {
    if (intervention.op.kind !== 'add') throw new Error('ITI edits are additive')
    const vector = intervention.op.vector
    return Array.from({ length: heads }, (_, head) => head)
      .filter((head) => vector.subarray(head * headDim, (head + 1) * headDim).some((value) => value !== 0))
      .map((head) => `${intervention.layer}:${head}`)
  })
}

describe('logistic probe', () => {
  it('solves the 1-D hand case: x = ±1 labelled by sign, C = 1 ⇒ b = 0 and w = 2σ(−w)', () => {
    const probe = fitLogisticProbe({
      features: [Float64Array.of(1), Float64Array.of(-1)],
      labels: Uint8Array.of(1, 0),
    })
    // Bisection on w − 2σ(−w), independent of the Newton solver.
    let low = 0
    let high = 2
    for (let step = 0; step < 200; step++) {
      const middle = (low + high) / 2
      if (middle - 2 / (1 + Math.exp(middle)) > 0) high = middle
      else low = middle
    }
    expect(probe.converged).toBe(true)
    expect(probe.bias).toBeCloseTo(0, 12)
    expect(probe.weights[0]).toBeCloseTo(low, 12)
  })

  it('stops at a point where the regularized gradient vanishes', () => {
    const draw = random(3)
    const features = Array.from({ length: 60 }, () => Float64Array.from({ length: 5 }, () => draw.gaussian()))
    const labels = Uint8Array.from(features, (row) =>
      row[0]! + 0.5 * row[3]! + 0.8 * draw.gaussian() > 0.3 ? 1 : 0,
    )
    const probe = fitLogisticProbe({ features, labels })
    const gradient = Array.from(probe.weights)
    let biasGradient = 0
    features.forEach((row, sample) => {
      const margin =
        probe.bias + row.reduce((total, value, index) => total + value * probe.weights[index]!, 0)
      const residual = 1 / (1 + Math.exp(-margin)) - labels[sample]!
      biasGradient += residual
      row.forEach((value, index) => (gradient[index] = gradient[index]! + residual * value))
    })
    expect(probe.converged).toBe(true)
    expect(Math.abs(biasGradient)).toBeLessThan(1e-9)
    for (const entry of gradient) expect(Math.abs(entry)).toBeLessThan(1e-9)
  })
})

describe('ITI (METHODS.md §5)', () => {
  it('splits pairs 80/20 by a seeded shuffle, the same way every time', () => {
    const split = splitPairs(10, 42)
    expect(split.validation).toHaveLength(2)
    expect(split.train).toHaveLength(8)
    expect([...split.train, ...split.validation].sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ])
    expect(splitPairs(10, 42)).toEqual(split)
    expect(splitPairs(10, 43)).not.toEqual(split)
    expect(splitPairs(2, 42).train).toHaveLength(1)
  })

  it('scales the paper’s 48 of 1024 heads to the model, at least one', () => {
    expect(defaultTopHeads(1024)).toBe(48)
    expect(defaultTopHeads(42)).toBe(2)
    expect(defaultTopHeads(6)).toBe(1)
  })

  it('finds a planted separable head and adds α·σ·θ̂ to it alone', async () => {
    const activations = plantedSet([{ layerIndex: 1, head: 2 }])
    const { edit, fit } = await fitEdit(methods.iti, activations, { topHeads: 1 })
    expect(editedHeads(edit.interventions)).toEqual(['3:2'])
    expect(edit.interventions[0]?.site).toBe('attn_heads')
    expect(edit.interventions[0]?.positions).toEqual({ kind: 'lastPromptAndGenerated' })
    const accuracies = fit.diagnostics?.['probe accuracy, head 2']
    expect(accuracies?.find((entry) => entry.layer === 3)?.value).toBe(1)
    // Noise heads hover near chance.
    const others = Object.entries(fit.diagnostics ?? {})
      .filter(([key]) => key.startsWith('probe accuracy'))
      .flatMap(([key, entries]) => entries.filter((entry) => !(key.endsWith('head 2') && entry.layer === 3)))
    for (const entry of others) expect(entry.value).toBeLessThan(0.9)

    // Reference θ̂ and σ in float64 straight from the activations.
    const positive = activations.positive[1]!
    const negative = activations.negative[1]!
    const theta = new Float64Array(headDim)
    for (let pair = 0; pair < activations.rows; pair++) {
      for (let dimension = 0; dimension < headDim; dimension++) {
        const offset = pair * width + 2 * headDim + dimension
        theta[dimension]! += (positive[offset]! - negative[offset]!) / activations.rows
      }
    }
    const norm = Math.hypot(...theta)
    const unit = theta.map((value) => value / norm)
    const projections: number[] = []
    for (const matrix of [positive, negative]) {
      for (let pair = 0; pair < activations.rows; pair++) {
        const offset = pair * width + 2 * headDim
        projections.push(
          unit.reduce((total, value, dimension) => total + value * matrix[offset + dimension]!, 0),
        )
      }
    }
    const mean = projections.reduce((total, value) => total + value, 0) / projections.length
    const sigma = Math.sqrt(
      projections.reduce((total, value) => total + (value - mean) ** 2, 0) / projections.length,
    )
    const op = edit.interventions[0]!.op
    if (op.kind !== 'add') throw new Error('expected add')
    for (let dimension = 0; dimension < headDim; dimension++) {
      expect(op.vector[2 * headDim + dimension]).toBeCloseTo(15 * sigma * unit[dimension]!, 4)
    }

    // The op on a fresh activation in float32: the head's projection on θ̂ rises by α·σ, the rest stays.
    const draw = random(11)
    const h = Float32Array.from({ length: width }, () => 3 * draw.gaussian())
    const edited = h.map((value, index) => value + 1 * op.vector[index]!)
    const slice = (vector: Float32Array) => Array.from(vector.subarray(2 * headDim, 3 * headDim))
    const along = (values: number[]) =>
      values.reduce((total, value, dimension) => total + value * unit[dimension]!, 0)
    expect(along(slice(edited)) - along(slice(h))).toBeCloseTo(15 * sigma, 4)
    const orthogonal = (values: number[]) => {
      const projection = along(values)
      return values.map((value, dimension) => value - projection * unit[dimension]!)
    }
    const before = orthogonal(slice(h))
    orthogonal(slice(edited)).forEach((value, dimension) => expect(value).toBeCloseTo(before[dimension]!, 5))
    for (let index = 0; index < 2 * headDim; index++) expect(edited[index]).toBe(h[index])
  })

  it('with α = 0 the edit adds exact zeros, so it is the identity', async () => {
    const { edit } = await fitEdit(methods.iti, plantedSet([{ layerIndex: 0, head: 1 }]), {
      alpha: 0,
      topHeads: 2,
    })
    expect(edit.interventions.length).toBeGreaterThan(0)
    const h = Float32Array.from({ length: width }, (_, index) => Math.sin(index) * 7)
    for (const intervention of edit.interventions) {
      if (intervention.op.kind !== 'add') throw new Error('expected add')
      const vector = intervention.op.vector
      expect(h.map((value, index) => value + vector[index]!)).toEqual(h)
    }
  })

  it('selects heads deterministically, keeping layer-major order on ties', async () => {
    // Every head separable: all validation accuracies are 1, so the first three in (layer, head) order win.
    const everywhere = [0, 1].flatMap((layerIndex) => [0, 1, 2].map((head) => ({ layerIndex, head })))
    const activations = plantedSet(everywhere, { shift: 8 })
    const first = await fitEdit(methods.iti, activations, { topHeads: 3 })
    const values = Object.entries(first.fit.diagnostics ?? {})
      .filter(([key]) => key.startsWith('probe accuracy'))
      .flatMap(([, entries]) => entries.map((entry) => entry.value))
    expect(values).toEqual(Array(6).fill(1))
    expect(editedHeads(first.edit.interventions)).toEqual(['1:0', '1:1', '1:2'])
    const second = await fitEdit(methods.iti, activations, { topHeads: 3 })
    expect(second.edit.interventions).toEqual(first.edit.interventions)
  })

  it('uses all layers, the paper’s share of heads and the last token by default', () => {
    const options = parseOptions(methods.iti, {})
    expect(methods.iti.capture(options, 6)).toMatchObject({
      site: 'attn_heads',
      selector: 'last',
      layers: [0, 1, 2, 3, 4, 5],
    })
    expect(options).toMatchObject({ alpha: 15, positions: 'lastPromptAndGenerated', seed: 42 })
  })

  it('offers every position as an option', async () => {
    const { edit } = await fitEdit(methods.iti, plantedSet([{ layerIndex: 0, head: 0 }]), {
      topHeads: 1,
      positions: 'all',
    })
    expect(edit.interventions[0]?.positions).toEqual({ kind: 'all' })
  })

  it('refuses bad input with errors naming the problem', async () => {
    const good = plantedSet([{ layerIndex: 0, head: 0 }], { pairs: 4 })
    const oneClass = { ...good, negative: good.positive.map((matrix) => matrix.slice()) }
    await expect(fitEdit(methods.iti, oneClass, {})).rejects.toThrow(/one class only/)
    const onePair = activationSet({
      site: 'attn_heads',
      selector: 'last',
      layers: [1],
      width,
      heads,
      positive: [good.positive[0]!.slice(0, width)],
      negative: [good.negative[0]!.slice(0, width)],
      rows: 1,
    })
    await expect(fitEdit(methods.iti, onePair, {})).rejects.toThrow(/at least 2 contrast pairs/)
    const withNaN = { ...good, positive: good.positive.map((matrix) => matrix.slice()) }
    withNaN.positive[1]![width + 3] = Number.NaN
    await expect(fitEdit(methods.iti, withNaN, {})).rejects.toThrow(
      /pair pair-1 at layer 3 is not a finite number/,
    )
    await expect(fitEdit(methods.iti, good, { topHeads: 7 })).rejects.toThrow(/option "topHeads" is 7.*1…6/)
    await expect(fitEdit(methods.iti, good, { topHeads: 0 })).rejects.toThrow(/option "topHeads"/)
    const { heads: _, ...unsplit } = good
    await expect(fitEdit(methods.iti, unsplit, {})).rejects.toThrow(/do not say how their 12 columns split/)
    await expect(fitEdit(methods.iti, { ...good, site: 'resid_post' }, {})).rejects.toThrow(
      /attn_heads\/last/,
    )
  })
})
