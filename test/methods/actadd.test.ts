import { describe, expect, it } from 'vitest'
import { actAdd } from '../../src/main/core/methods/actadd.ts'
import { fitEdit } from '../../src/main/core/methods/index.ts'
import { layerSet, random } from './synthetic.ts'

const width = 6

/** Per-token activations of one pair `[n, width]` with a shared BOS row (position 0). */
function promptActivations(n: number, seed: number, bos: Float32Array): Float32Array {
  const draw = random(seed)
  const rows = Float32Array.from({ length: n * width }, () => draw.gaussian())
  rows.set(bos, 0)
  return rows
}

/** resid_pre per-token activations of one layer; `rowsPerPair` defaults to one pair spanning every row. */
function promptTokenSet(
  layer: number,
  positive: Float32Array,
  negative: Float32Array,
  rowsPerPair?: number[],
) {
  const rows = positive.length / width
  return layerSet({
    site: 'resid_pre',
    selector: 'promptTokens',
    layer,
    width,
    positive,
    negative,
    rowsPerPair: rowsPerPair ?? [rows],
  })
}

function concat(parts: Float32Array[]): Float32Array {
  const result = new Float32Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

describe('ActAdd (METHODS.md §3.7)', () => {
  const bos = Float32Array.from({ length: width }, (_, index) => 10 + index)

  it('is linear: S = c·(A⁺ − A⁻) exactly on the n positions, with a zero BOS row', async () => {
    const positive = promptActivations(4, 1, bos)
    const negative = promptActivations(4, 2, bos)
    const activations = promptTokenSet(2, positive, negative)
    const { interventions } = await actAdd.fit(activations, { layers: undefined, coefficient: 5 })
    expect(interventions).toHaveLength(1)
    const [intervention] = interventions
    expect(intervention!.layer).toBe(2)
    expect(intervention!.site).toBe('resid_pre')
    expect(intervention!.positions).toEqual({ kind: 'promptPrefix', count: 4 })
    const op = intervention!.op
    if (op.kind !== 'addAt') throw new Error(`expected addAt, got ${op.kind}`)
    expect(op.count).toBe(4)
    const expected = positive.map((value, index) => Math.fround(5 * (value - negative[index]!)))
    expect(Array.from(op.vectors)).toEqual(Array.from(expected))
    expect(Array.from(op.vectors.subarray(0, width))).toEqual(new Array(width).fill(0))
  })

  it('gives an all-zero steering tensor when p⁺ = p⁻ or c = 0', async () => {
    const same = promptActivations(3, 3, bos)
    const identical = promptTokenSet(0, same, same)
    const fromIdentical = (await actAdd.fit(identical, { layers: undefined, coefficient: 5 }))
      .interventions[0]!.op
    if (fromIdentical.kind !== 'addAt') throw new Error('expected addAt')
    expect(fromIdentical.vectors.every((value) => value === 0)).toBe(true)
    const different = promptTokenSet(0, same, promptActivations(3, 4, bos))
    const fromZero = (await actAdd.fit(different, { layers: undefined, coefficient: 0 })).interventions[0]!.op
    if (fromZero.kind !== 'addAt') throw new Error('expected addAt')
    expect(fromZero.vectors.every((value) => value === 0)).toBe(true)
  })

  it('averages several pairs position by position, each position over the pairs that reach it', async () => {
    const firstPositive = promptActivations(3, 5, bos)
    const firstNegative = promptActivations(3, 6, bos)
    const secondPositive = promptActivations(2, 7, bos)
    const secondNegative = promptActivations(2, 8, bos)
    const activations = promptTokenSet(
      1,
      concat([firstPositive, secondPositive]),
      concat([firstNegative, secondNegative]),
      [3, 2],
    )
    const op = (await actAdd.fit(activations, { layers: undefined, coefficient: 2 })).interventions[0]!.op
    if (op.kind !== 'addAt') throw new Error('expected addAt')
    expect(op.count).toBe(3)
    for (let column = 0; column < width; column++) {
      const first = (position: number) =>
        firstPositive[position * width + column]! - firstNegative[position * width + column]!
      const second = (position: number) =>
        secondPositive[position * width + column]! - secondNegative[position * width + column]!
      expect(op.vectors[width + column]).toBeCloseTo(2 * ((first(1) + second(1)) / 2), 5)
      expect(op.vectors[2 * width + column]).toBeCloseTo(2 * first(2), 5)
    }
  })

  it('captures resid_pre of one layer, rendered raw and padded; refuses several layers', async () => {
    const request = actAdd.capture(actAdd.defaults, 48)
    expect(request).toEqual({
      site: 'resid_pre',
      selector: 'promptTokens',
      layers: [6],
      render: { format: 'raw', padToEqualLength: true },
    })
    await expect(fitEdit(actAdd, promptTokenSet(0, bos, bos), { layers: [1, 2] })).rejects.toThrow(/layers/)
  })
})
