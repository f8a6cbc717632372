/**
 * ITI — Inference-Time Intervention (Li et al. 2023; METHODS.md §5).
 *
 * Fit: `attn_heads` (the o_proj input, heads × headDim) at the last token of prompt + answer, every layer;
 * true answers are label 1 (positive side), false ones label 0. Pairs split 80/20 train/validation by
 * demonstration (seeded shuffle); one logistic probe per head (logistic-probe.ts; the heads of a layer fitted
 * together by batched-logistic-probes.ts); the top K heads by validation accuracy (stable order on ties) get the mass-mean direction θ̂ = θ/‖θ‖, θ = mean(true) − mean(false) over all
 * pairs, and σ = std of aᵀθ̂ over all of the head's activations.
 * Runtime: `attn_heads[l][h] += α·σ·θ̂` at the last position of every forward call (the paper's generation
 * setup). α (default 15) is baked into the vector, so strength 1 is the paper's ITI₁₅.
 *
 * Deviation: the paper measures σ on a separate unlabelled "tuning" set (question + answer + another question);
 * a demonstration file has no such set, so σ comes from the fit's own activations, both sides pooled.
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import type { Intervention } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { Random } from '../runtime/random.ts'
import {
  headLayout,
  requireFinite,
  requirePairs,
  requireTwoClasses,
  type HeadLayout,
} from './activation-checks.ts'
import { fitLogisticProbes } from './batched-logistic-probes.ts'
import { probeAccuracy, type LogisticProbe, type ProbeSamples } from './logistic-probe.ts'
import {
  allLayers,
  checkActivations,
  layersOption,
  resolveLayers,
  type FitContext,
  type Method,
  type MethodFit,
} from './method.ts'

const optionsSchema = z.strictObject({
  /** Layers whose heads compete for selection; default every block, as in the paper. */
  layers: layersOption,
  /** K, the heads edited; default the paper's share, 48 of 1024 heads, of the captured heads. */
  topHeads: z.number().int().min(1).optional(),
  /** The paper's α, baked into the vector. */
  alpha: z.number().finite(),
  /** `lastPromptAndGenerated`: the paper's generation setup; `all`: every token (the baked-in bias variant). */
  positions: z.enum(['lastPromptAndGenerated', 'all']),
  /** Seed of the train/validation split. */
  seed: z.number().int(),
})
/** ITI options after parsing (defaults merged). */
export type ItiOptions = z.infer<typeof optionsSchema>

const site = 'attn_heads'
const selector = 'last'
/** sklearn's `train_test_split(test_size = 0.2)` share held out for choosing heads. */
const validationShare = 0.2
/** The paper's K = 48 of LLaMA-7B's 32 × 32 heads. */
const paperHeadShare = 48 / 1024

/** The default K for `headCount` heads: the paper's share, at least one head. */
export function defaultTopHeads(headCount: number): number {
  return Math.max(1, Math.round(paperHeadShare * headCount))
}

/** Pair indices split by a seeded Fisher–Yates shuffle: `ceil(0.2·n)` validation pairs, the rest train. */
export function splitPairs(pairs: number, seed: number): { train: number[]; validation: number[] } {
  const order = Array.from({ length: pairs }, (_, index) => index)
  const random = new Random(seed)
  for (let index = pairs - 1; index > 0; index--) {
    const other = Math.floor(random.next() * (index + 1))
    ;[order[index], order[other]] = [order[other] as number, order[index] as number]
  }
  const validationCount = Math.min(pairs - 1, Math.ceil(validationShare * pairs))
  return { validation: order.slice(0, validationCount), train: order.slice(validationCount) }
}

/** Head `head`'s slice of `pairs`' rows from both sides of one layer: label 1 positive, 0 negative. */
function headSamples(
  positive: Float32Array,
  negative: Float32Array,
  pairs: readonly number[],
  head: number,
  layout: HeadLayout,
): ProbeSamples {
  const width = layout.heads * layout.headDim
  const features: Float64Array[] = []
  const labels = new Uint8Array(2 * pairs.length)
  pairs.forEach((pair, index) => {
    const start = pair * width + head * layout.headDim
    features.push(Float64Array.from(positive.subarray(start, start + layout.headDim)))
    features.push(Float64Array.from(negative.subarray(start, start + layout.headDim)))
    labels[2 * index] = 1
  })
  return { features, labels }
}

/** One head's validation accuracy; `layerIndex` indexes the captured layers. */
interface HeadScore {
  layerIndex: number
  head: number
  accuracy: number
}

/** θ̂ and σ of one head from all pairs (METHODS.md §5.2 steps 4–5). */
function massMeanDirection(samples: ProbeSamples, headDim: number, label: string) {
  const theta = new Float64Array(headDim)
  const count = samples.features.length / 2
  samples.features.forEach((row, index) => {
    const sign = samples.labels[index] === 1 ? 1 : -1
    row.forEach(
      (value, dimension) => (theta[dimension] = (theta[dimension] as number) + (sign * value) / count),
    )
  })
  const norm = Math.hypot(...theta)
  if (!(norm > 0)) {
    throw new TillerError(
      'invalid-dataset',
      `iti: ${label} has the same mean activation for true and false answers, so it has no direction.`,
      { subject: label },
    )
  }
  const direction = theta.map((value) => value / norm)
  const projections = samples.features.map((row) =>
    row.reduce((total, value, dimension) => total + value * (direction[dimension] as number), 0),
  )
  const mean = projections.reduce((total, value) => total + value, 0) / projections.length
  const variance = projections.reduce((total, value) => total + (value - mean) ** 2, 0) / projections.length
  return { direction, sigma: Math.sqrt(variance) }
}

async function fit(
  activations: ActivationSet,
  options: ItiOptions,
  context: FitContext = {},
): Promise<MethodFit> {
  checkActivations(activations, 'iti', { site, selector })
  requirePairs(activations, 'iti')
  requireFinite(activations, 'iti')
  requireTwoClasses(activations, 'iti')
  const layout = headLayout(activations, 'iti')
  const headCount = activations.layers.length * layout.heads
  const topHeads = options.topHeads ?? defaultTopHeads(headCount)
  if (topHeads > headCount) {
    throw new TillerError(
      'invalid-argument',
      `iti: option "topHeads" is ${topHeads}, but ${activations.layers.length} layers × ${layout.heads} heads ` +
        `give only ${headCount}; choose 1…${headCount}.`,
      { subject: 'topHeads' },
    )
  }
  const split = splitPairs(activations.rows, options.seed)
  const allPairs = Array.from({ length: activations.rows }, (_, index) => index)
  const scores: HeadScore[] = []
  for (const [layerIndex, layer] of activations.layers.entries()) {
    if (context.signal?.aborted) throw new TillerError('cancelled', 'The fit was cancelled.')
    const positive = activations.positive[layerIndex] as Float32Array
    const negative = activations.negative[layerIndex] as Float32Array
    const heads = Array.from({ length: layout.heads }, (_, head) => head)
    const probes = await fitLogisticProbes(
      heads.map((head) => headSamples(positive, negative, split.train, head, layout)),
    )
    for (const head of heads) {
      const probe = probes[head] as LogisticProbe
      const accuracy = probeAccuracy(probe, headSamples(positive, negative, split.validation, head, layout))
      scores.push({ layerIndex, head, accuracy })
    }
    context.onProgress?.((layerIndex + 1) / activations.layers.length, `Probed the heads of layer ${layer}`)
    // Yield between layers so a cancel request can arrive.
    await new Promise((resolve) => setImmediate(resolve))
  }
  // Array.prototype.sort is stable: equal accuracies keep layer-major, head-minor order (the paper's argsort).
  const selected = [...scores].sort((first, second) => second.accuracy - first.accuracy).slice(0, topHeads)
  const vectors = new Map<number, Float32Array>()
  const notes = [
    `${split.train.length} train / ${split.validation.length} validation pairs (seed ${options.seed}); ` +
      `top ${topHeads} of ${headCount} heads by probe accuracy; α = ${options.alpha}; σ from the fit's own ` +
      'activations (the paper uses a separate tuning set)',
  ]
  for (const score of [...selected].sort(
    (first, second) => first.layerIndex - second.layerIndex || first.head - second.head,
  )) {
    const layer = activations.layers[score.layerIndex] as number
    const samples = headSamples(
      activations.positive[score.layerIndex] as Float32Array,
      activations.negative[score.layerIndex] as Float32Array,
      allPairs,
      score.head,
      layout,
    )
    const { direction, sigma } = massMeanDirection(
      samples,
      layout.headDim,
      `layer ${layer} head ${score.head}`,
    )
    const vector = vectors.get(layer) ?? new Float32Array(activations.width)
    const offset = score.head * layout.headDim
    direction.forEach((value, dimension) => (vector[offset + dimension] = options.alpha * sigma * value))
    vectors.set(layer, vector)
    notes.push(
      `layer ${layer} head ${score.head}: validation accuracy ${score.accuracy.toFixed(3)}, σ = ${sigma.toPrecision(4)}`,
    )
  }
  const interventions: Intervention[] = [...vectors.entries()]
    .sort(([first], [second]) => first - second)
    .map(([layer, vector]) => ({
      layer,
      site,
      positions: { kind: options.positions },
      op: { kind: 'add', vector },
    }))
  const diagnostics: NonNullable<MethodFit['diagnostics']> = {
    'best probe accuracy': activations.layers.map((layer, layerIndex) => ({
      layer,
      value: Math.max(
        ...scores.filter((score) => score.layerIndex === layerIndex).map((score) => score.accuracy),
      ),
    })),
  }
  for (let head = 0; head < layout.heads; head++) {
    diagnostics[`probe accuracy, head ${head}`] = scores
      .filter((score) => score.head === head)
      .map((score) => ({ layer: activations.layers[score.layerIndex] as number, value: score.accuracy }))
  }
  return { interventions, notes, diagnostics }
}

/** ITI: mass-mean shifts added to the attention heads whose probes separate true from false answers best. */
export const iti: Method<ItiOptions> = {
  id: 'iti',
  summary: 'ITI: per-head probes pick the top K attention heads; their mass-mean direction is added (α·σ·θ̂)',
  optionsSchema,
  defaults: {
    layers: undefined,
    topHeads: undefined,
    alpha: 15,
    positions: 'lastPromptAndGenerated',
    seed: 42,
  },
  strength: {
    description:
      'strength × α·σ·θ̂ is added to each selected head; strength 1 is the paper’s ITI with α baked in',
    default: 1,
    testedRange: [0, 2],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(options.layers, allLayers(layerCount), layerCount, 'iti'),
    render: { contrast: 'completion' },
  }),
  fit,
}
