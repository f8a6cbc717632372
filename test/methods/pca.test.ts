import { describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { pcaCenter } from '../../src/main/core/methods/pca-center.ts'
import { pcaDiff } from '../../src/main/core/methods/pca-diff.ts'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { dot, norm } from '../../src/shared/vectors.ts'
import { activationSet, contrastAlong, layerSet, unitVector } from './synthetic.ts'

const width = 24

function synthetic(direction: Float32Array, swap = false): ActivationSet {
  const { positive, negative } = contrastAlong(direction, 30, 21)
  return activationSet({
    site: 'resid_post',
    selector: 'last',
    layers: [1, 2],
    width,
    positive: [swap ? negative : positive, swap ? negative : positive],
    negative: [swap ? positive : negative, swap ? positive : negative],
    rows: 30,
  })
}

async function vectorOf(
  activations: ActivationSet,
  mode: 'pca-diff' | 'pca-center',
  index: number,
  scale: 'unit' | 'natural' = 'unit',
): Promise<Float32Array> {
  const method = mode === 'pca-diff' ? pcaDiff : pcaCenter
  const op = (await method.fit(activations, { scale })).interventions[index]!.op
  if (op.kind !== 'add') throw new Error('expected add')
  return op.vector
}

describe.each(['pca-diff', 'pca-center'] as const)('%s (METHODS.md §7.4)', (mode) => {
  it('recovers ±v from h± = b ± c_i v + ε as a unit vector, sign fixed so dir·v > 0', async () => {
    const direction = unitVector(width, 20)
    const activations = synthetic(direction)
    for (const index of [0, 1]) {
      const vector = await vectorOf(activations, mode, index)
      expect(norm(vector)).toBeCloseTo(1, 6)
      expect(dot(vector, direction)).toBeGreaterThan(0.99)
    }
  })

  it('scales the direction by the mean margin of the pairs along it by default (natural scale)', async () => {
    const direction = unitVector(width, 24)
    const activations = synthetic(direction)
    const unit = await vectorOf(activations, mode, 0)
    const natural = await vectorOf(activations, mode, 0, 'natural')
    const positive = activations.positive[0]!
    const negative = activations.negative[0]!
    let margin = 0
    for (let row = 0; row < activations.rows; row++) {
      const offset = row * width
      margin +=
        dot(positive.subarray(offset, offset + width), unit) -
        dot(negative.subarray(offset, offset + width), unit)
    }
    margin /= activations.rows
    expect(margin).toBeGreaterThan(0)
    expect(norm(natural)).toBeCloseTo(margin, 4)
    expect(dot(natural, unit) / norm(natural)).toBeCloseTo(1, 6)
  })

  it('flips with the labels: swapping positive and negative gives dir·v < 0', async () => {
    const direction = unitVector(width, 22)
    expect(dot(await vectorOf(synthetic(direction, true), mode, 0), direction)).toBeLessThan(-0.99)
  })

  it('edits resid_post at every position of each chosen layer', async () => {
    const method = mode === 'pca-diff' ? pcaDiff : pcaCenter
    const { interventions } = await method.fit(synthetic(unitVector(width, 23)), { scale: 'natural' })
    expect(
      interventions.map((intervention) => [
        intervention.layer,
        intervention.site,
        intervention.positions.kind,
      ]),
    ).toEqual([
      [1, 'resid_post', 'all'],
      [2, 'resid_post', 'all'],
    ])
  })
})

describe('PCA edge cases', () => {
  it('refuses a perfectly constant difference for pca-diff, naming the layer and pointing to mean-diff', async () => {
    // Dyadic values keep h⁺ − h⁻ exactly equal on every row in float32.
    const difference = Float32Array.of(0.5, -0.25, 1, 0, 0.75, -1, 0.125, 2)
    const direction = difference.map((value) => value / norm(difference))
    const positive = new Float32Array(5 * 8)
    const negative = new Float32Array(5 * 8)
    for (let row = 0; row < 5; row++) {
      for (let column = 0; column < 8; column++) {
        negative[row * 8 + column] = row * 3 - column
        positive[row * 8 + column] = row * 3 - column + difference[column]!
      }
    }
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 3,
      width: 8,
      positive,
      negative,
    })
    let caught: unknown
    try {
      await pcaDiff.fit(activations, { scale: 'unit' })
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'invalid-dataset')).toBe(true)
    expect((caught as Error).message).toMatch(/layer 3.*mean-diff/)
    // pca-center still has a direction: ±(h⁺ − h⁻)/2 rows vary in sign.
    const centre = (await pcaCenter.fit(activations, { scale: 'unit' })).interventions[0]!.op
    if (centre.kind !== 'add') throw new Error('expected add')
    expect(Math.abs(dot(centre.vector, direction))).toBeGreaterThan(0.999)
    expect(dot(centre.vector, direction)).toBeGreaterThan(0)
  })

  it("defaults to repeng's band of layers (blocks 15…27 of 32)", async () => {
    expect(pcaDiff.capture(pcaDiff.defaults, 32).layers).toEqual([
      15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    ])
    expect(pcaCenter.capture(pcaCenter.defaults, 2).layers).toEqual([1])
  })
})
