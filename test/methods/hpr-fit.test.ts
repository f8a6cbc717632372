/**
 * HPR's fit on synthetic per-token activations: probes separate separable layers, angle predictions approach
 * their targets, the edit moves negatives toward their positives, results are deterministic for a seed, and bad
 * input (too few demonstrations, no pairs left, non-finite values, inseparable data, cancellation) is refused.
 */
import { describe, expect, it } from 'vitest'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { hpr, type HprOptions } from '../../src/main/core/methods/hpr.ts'
import { paperAdamW, type HprTrainingSettings } from '../../src/main/core/methods/hpr/training-settings.ts'
import { trainHpr } from '../../src/main/core/methods/hpr/training.ts'
import { clampedAngle, type LayerPairs } from '../../src/main/core/methods/hpr/token-pairs.ts'
import { activationSet, random } from './synthetic.ts'
import { angleBetween, householderEdit } from '../helpers/householder-reference.ts'

// Wide enough that the angle network's narrowest layer (width/8) cannot collapse as 16 → … → 2 units can.
const width = 64

/**
 * `demonstrations` pairs of `tokens` rows at one layer per entry of `signals`: a layer with signal s > 0 shifts the
 * positive side by +s·e and the negative side by −s·e (e ⟂ the shared base); a layer with signal 0 shifts each side
 * by ±e at random. Each pair's first token is identical on both sides (the shared prefix the 75 % rule drops).
 */
function syntheticSet(
  demonstrations: number,
  tokens: number,
  seed: number,
  signals = [0, 2, 1.2],
): ActivationSet {
  const draw = random(seed)
  const rows = demonstrations * tokens
  const positive = signals.map(() => new Float32Array(rows * width))
  const negative = signals.map(() => new Float32Array(rows * width))
  const sign = () => (draw.uniform() < 0.5 ? -1 : 1)
  for (let row = 0; row < rows; row++) {
    const shared = row % tokens === 0
    const base = Array.from({ length: width }, (_, column) => (column === 0 ? 0 : draw.gaussian()))
    signals.forEach((signal, layer) => {
      const positiveShift = signal === 0 ? sign() : signal
      const negativeShift = signal === 0 ? sign() : -signal
      for (let column = 0; column < width; column++) {
        const value = (shift: number) =>
          (base[column] as number) + (column === 0 ? shift : 0.2 * draw.gaussian())
        const up = value(positiveShift)
        ;(positive[layer] as Float32Array)[row * width + column] = up
        ;(negative[layer] as Float32Array)[row * width + column] = shared ? up : value(negativeShift)
      }
    })
  }
  return setOf(
    positive,
    negative,
    Array.from({ length: demonstrations }, () => tokens),
    signals.length,
  )
}

function setOf(
  positive: Float32Array[],
  negative: Float32Array[],
  rowsPerPair: number[],
  layers: number,
): ActivationSet {
  return activationSet({
    site: 'resid_post',
    selector: 'completionTokens',
    layers: Array.from({ length: layers }, (_, layer) => layer),
    width,
    positive,
    negative,
    rows: rowsPerPair.reduce((sum, count) => sum + count, 0),
    rowsPerPair,
  })
}

/**
 * Data no probe through the origin can separate: every demonstration holds the token pairs (x, −x) and (−x, x),
 * so any θ classifies exactly half of its four rows right and validation accuracy is exactly 0.5.
 */
function inseparableSet(demonstrations: number, seed: number): ActivationSet {
  const draw = random(seed)
  const positive = new Float32Array(demonstrations * 2 * width)
  const negative = new Float32Array(demonstrations * 2 * width)
  for (let demonstration = 0; demonstration < demonstrations; demonstration++) {
    for (let column = 0; column < width; column++) {
      const x = draw.gaussian()
      positive[2 * demonstration * width + column] = x
      negative[2 * demonstration * width + column] = -x
      positive[(2 * demonstration + 1) * width + column] = -x
      negative[(2 * demonstration + 1) * width + column] = x
    }
  }
  return setOf(
    [positive],
    [negative],
    Array.from({ length: demonstrations }, () => 2),
    1,
  )
}

const settings: HprTrainingSettings = {
  epochs: 8,
  batchSize: 16,
  learningRate: 0.02,
  warmupRatio: 0.05,
  schedule: 'linear',
  adamW: paperAdamW,
  seed: 3,
  threads: 1,
}
const selection = { topK: 2, validationFraction: 0.2, minimumAccuracy: 0.55 }

function options(overrides: Partial<HprOptions> = {}): HprOptions {
  return {
    ...hpr.defaults,
    topK: 2,
    epochs: 8,
    learningRate: 0.02,
    validationFraction: 0.2,
    seed: 3,
    ...overrides,
  }
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise
  } catch (error) {
    if (isTillerError(error)) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('the fit did not refuse')
}

describe('HPR fit', () => {
  it('separates separable layers, learns the target angles and picks the separable layers', async () => {
    const set = syntheticSet(200, 4, 1)
    const result = await trainHpr(set, settings, selection)
    expect(result.pairs.trainDemonstrations).toBe(160)
    expect(result.pairs.validationDemonstrations).toBe(40)
    // The identical first token of every pair is dropped at every layer.
    for (const layer of result.pairs.layers) expect(layer.keptTrain + layer.keptValidation).toBe(200 * 3)
    const accuracy = new Map(result.probes.map((probe) => [probe.layer, probe.accuracy]))
    expect(accuracy.get(1)).toBeGreaterThan(0.95)
    expect(accuracy.get(2)).toBeGreaterThan(0.95)
    expect(accuracy.get(0)).toBeLessThan(0.8)
    expect(result.networks.map((network) => network.layer).sort()).toEqual([1, 2])
    const first = result.angleLosses[0] as number
    const last = result.angleLosses.at(-1) as number
    expect(last).toBeLessThan(0.2 * first)
    // A constant prediction can do no better than the targets' variance; the networks must do far better.
    for (const network of result.networks) {
      const pairs = result.pairs.layers[network.layer] as LayerPairs
      const targets: number[] = []
      for (const row of result.pairs.validationRows) {
        if (pairs.kept[row] === 0) continue
        targets.push(clampedAngle(pairs.positive, row * width, pairs.positive, row * width, width))
        targets.push(clampedAngle(pairs.negative, row * width, pairs.positive, row * width, width))
      }
      const mean = targets.reduce((sum, value) => sum + value, 0) / targets.length
      const variance = targets.reduce((sum, value) => sum + (value - mean) ** 2, 0) / targets.length
      expect(network.validationError).toBeLessThan(0.4 * variance)
    }
  })

  it('gives householder edits that rotate negatives toward their positives', async () => {
    const set = syntheticSet(200, 4, 1)
    const fit = await hpr.fit(set, options())
    expect(fit.interventions).toHaveLength(2)
    const intervention = fit.interventions.find((entry) => entry.layer === 1)
    if (intervention?.op.kind !== 'householder') throw new Error('expected a householder op at layer 1')
    expect(intervention.site).toBe('resid_post')
    expect(intervention.positions).toEqual({ kind: 'all' })
    expect(intervention.op.angleWidths).toEqual([64, 32, 16, 8, 1])
    expect(intervention.op.angleWeights.map((weights) => weights.length)).toEqual([2048, 512, 128, 8])
    const index = set.layers.indexOf(1)
    let before = 0
    let after = 0
    for (let row = 1; row < set.rows; row += 4) {
      const positive = (set.positive[index] as Float32Array).subarray(row * width, (row + 1) * width)
      const negative = (set.negative[index] as Float32Array).subarray(row * width, (row + 1) * width)
      before += angleBetween(negative, positive)
      after += angleBetween(householderEdit(negative, intervention.op, 1), positive)
      expect(Array.from(householderEdit(positive, intervention.op, 1))).toEqual(Array.from(positive))
    }
    // Measured: the mean angle to the positive halves (0.56 → 0.28 rad).
    expect(after).toBeLessThan(0.6 * before)
    expect(fit.notes.join('\n')).toMatch(/validation probe accuracy: layer 0 0\.\d+, layer 1 /)
    expect(fit.diagnostics?.validationProbeAccuracy).toHaveLength(3)
  })

  it('is deterministic for a seed and reports progress', async () => {
    const set = syntheticSet(20, 3, 2)
    const messages: Array<[number, string]> = []
    const first = await trainHpr(set, { ...settings, epochs: 2 }, selection, {
      onProgress: (fraction, message) => messages.push([fraction, message]),
    })
    const second = await trainHpr(set, { ...settings, epochs: 2 }, selection)
    expect(second.probes.map((probe) => Array.from(probe.probe))).toEqual(
      first.probes.map((probe) => Array.from(probe.probe)),
    )
    expect(second.networks.map((network) => network.weights.map((values) => Array.from(values)))).toEqual(
      first.networks.map((network) => network.weights.map((values) => Array.from(values))),
    )
    expect(messages.some(([, message]) => /probes: epoch 2\/2, loss \d/.test(message))).toBe(true)
    expect(messages.some(([, message]) => /angle networks: epoch 1\/2, loss \d/.test(message))).toBe(true)
    const fractions = messages.map(([fraction]) => fraction)
    expect(fractions.every((value, index) => index === 0 || value >= (fractions[index - 1] as number))).toBe(
      true,
    )
    expect(fractions.at(-1)).toBe(1)
  })

  it('edits the last position of each forward call in generation mode', async () => {
    const fit = await hpr.fit(
      syntheticSet(20, 3, 8),
      options({ epochs: 1, positions: 'lastPromptAndGenerated' }),
    )
    expect(fit.interventions.map((intervention) => intervention.positions)).toEqual([
      { kind: 'lastPromptAndGenerated' },
      { kind: 'lastPromptAndGenerated' },
    ])
    expect(fit.notes.join('\n')).toMatch(
      /token pairs dropped as ≥ 75 % equal \(shared prefix\): 20 at every layer/,
    )
  })

  it('refuses fewer than two demonstrations', async () => {
    const refused = await refusal(hpr.fit(syntheticSet(1, 4, 3), options()) as Promise<unknown>)
    expect(refused.code).toBe('invalid-dataset')
    expect(refused.message).toMatch(/at least 2 demonstrations.*got 1/)
  })

  it('refuses data with no token pair left after the 75 % rule', async () => {
    const set = syntheticSet(6, 3, 4)
    set.negative = set.positive.map((matrix) => matrix.slice())
    const refused = await refusal(hpr.fit(set, options()) as Promise<unknown>)
    expect(refused.code).toBe('invalid-dataset')
    expect(refused.message).toMatch(/no token pairs are left/)
  })

  it('refuses non-finite activations naming the example and layer', async () => {
    const set = syntheticSet(6, 3, 5)
    ;(set.negative[1] as Float32Array)[4 * width + 3] = Number.NaN
    const refused = await refusal(hpr.fit(set, options()) as Promise<unknown>)
    expect(refused.code).toBe('invalid-dataset')
    expect(refused.message).toMatch(/negative activation of example "pair-1" at layer 1 .*NaN/)
  })

  it('refuses when no probe beats chance, naming the best accuracy', async () => {
    const set = inseparableSet(40, 6)
    const refused = await refusal(hpr.fit(set, options({ epochs: 2 })) as Promise<unknown>)
    expect(refused.code).toBe('invalid-dataset')
    expect(refused.message).toMatch(/best validation accuracy is 0\.500 \(layer 0\), at most 0\.55/)
  })

  it('stops with `cancelled` when the signal aborts', async () => {
    const controller = new AbortController()
    controller.abort()
    const refused = await refusal(
      hpr.fit(syntheticSet(10, 3, 7), options(), { signal: controller.signal }) as Promise<unknown>,
    )
    expect(refused.code).toBe('cancelled')
  })
})
