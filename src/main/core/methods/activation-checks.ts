/**
 * What ITI and SADI check before fitting on pairs: how an `attn_heads` row splits into heads, that there are
 * enough pairs, that the two sides differ, and that every activation is a finite number.
 */
import type { ActivationSet } from '../../../shared/activations.ts'
import type { MethodId } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'

/** How an `attn_heads` row `[heads · headDim]` splits: head h covers `[h·headDim, (h+1)·headDim)`. */
export interface HeadLayout {
  heads: number
  headDim: number
}

/** The head layout an `attn_heads` set records (capture stores the model's query-head count). */
export function headLayout(activations: ActivationSet, method: MethodId): HeadLayout {
  const heads = activations.heads
  if (heads === undefined || !Number.isInteger(heads) || heads < 1 || activations.width % heads !== 0) {
    throw new TillerError(
      'invalid-argument',
      `${method}: these attn_heads activations do not say how their ${activations.width} columns split into ` +
        'heads; capture them again with this version of Tiller.',
      { subject: 'heads' },
    )
  }
  return { heads, headDim: activations.width / heads }
}

/** Refuse fewer than two pairs: one pair gives no held-out data and no spread. */
export function requirePairs(activations: ActivationSet, method: MethodId): void {
  if (activations.rows < 2) {
    throw new TillerError(
      'invalid-dataset',
      `${method} needs at least 2 contrast pairs; got ${activations.rows}. Add pairs to the demonstration file.`,
      { subject: 'pairs' },
    )
  }
}

/** Refuse NaN or infinite activations, naming the layer, side and pair. */
export function requireFinite(activations: ActivationSet, method: MethodId): void {
  activations.layers.forEach((layer, index) => {
    for (const [side, matrix] of [
      ['positive', activations.positive[index]],
      ['negative', activations.negative[index]],
    ] as const) {
      const bad = matrix?.findIndex((value) => !Number.isFinite(value)) ?? -1
      if (bad >= 0) {
        const row = Math.floor(bad / activations.width)
        throw new TillerError(
          'invalid-dataset',
          `${method}: the ${side} activation of pair ${activations.exampleIds[row] ?? row} at layer ${layer} is ` +
            'not a finite number; the model overflowed on it. Remove the pair or use a float32 model.',
          { subject: activations.exampleIds[row] ?? `row ${row}` },
        )
      }
    }
  })
}

/** Refuse sets whose two sides are identical everywhere: the pairs then hold one class only. */
export function requireTwoClasses(activations: ActivationSet, method: MethodId): void {
  const differs = activations.positive.some((matrix, index) => {
    const other = activations.negative[index] as Float32Array
    return matrix.some((value, position) => value !== other[position])
  })
  if (!differs) {
    throw new TillerError(
      'invalid-dataset',
      `${method}: the positive and negative sides give identical activations, so the data hold one class only; ` +
        'the two answers of each pair must differ.',
      { subject: 'negative' },
    )
  }
}
