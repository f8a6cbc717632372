/**
 * HPR — Householder Pseudo-Rotation (METHODS.md §2, Pham & Nguyen 2024). Per layer a linear probe θ (no bias)
 * tells positive from negative activations; at runtime a probe-negative activation is reflected across the probe's
 * hyperplane and rotated within the plane of itself and its reflection by the angle network's γ₁ = α·π·sigmoid(MLP),
 * which keeps its norm. The fit captures resid_post at every response token, trains probes for all candidate layers,
 * keeps the top-k by validation probe accuracy and trains their angle networks — every step an ONNX graph.
 *
 * A probe that cannot separate the data is refused rather than shipped: when every layer's validation accuracy is
 * ≤ 0.55 the fit throws naming the best layer and accuracy; selected layers at or below it are named in the notes.
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import type { Intervention, PositionPolicy } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { angleWidths, trainHpr } from './hpr/training.ts'
import { equalShareLimit, type TokenPairs } from './hpr/token-pairs.ts'
import { paperAdamW } from './hpr/training-settings.ts'
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
  /** Candidate layers (default: every block). */
  layers: layersOption,
  /** Layers edited: the k best by validation probe accuracy. */
  topK: z.number().int().min(1),
  epochs: z.number().int().min(1),
  /** Token pairs per step. */
  batchSize: z.number().int().min(1),
  learningRate: z.number().positive(),
  warmupRatio: z.number().min(0).max(1),
  /** 'linear' is the released code (Hugging Face's default), 'cosine' the paper's wording. */
  schedule: z.enum(['linear', 'cosine']),
  weightDecay: z.number().min(0),
  /** Share of demonstrations held out to choose epochs and layers (at least one demonstration each side). */
  validationFraction: z.number().gt(0).lt(1),
  seed: z.number().int(),
  /** 'all': every position (scoring mode); 'lastPromptAndGenerated': last position of each forward call. */
  positions: z.enum(['all', 'lastPromptAndGenerated']),
})
/** hpr options after parsing (defaults merged). */
export type HprOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'
const selector = 'completionTokens'
/** Validation accuracy at or below which a probe is no better than chance for this method's purposes. */
export const chanceAccuracy = 0.55

function positionPolicy(positions: HprOptions['positions']): PositionPolicy {
  return positions === 'all' ? { kind: 'all' } : { kind: 'lastPromptAndGenerated' }
}

/** How many token pairs the 75 % rule dropped, per layer (one number when every layer dropped the same). */
function droppedNote(pairs: TokenPairs): string {
  const dropped = pairs.layers.map((entry) => pairs.rows - entry.keptTrain - entry.keptValidation)
  const same = dropped.every((count) => count === dropped[0])
  const counts = same
    ? `${dropped[0]} at every layer`
    : pairs.layers.map((entry, index) => `layer ${entry.layer} ${dropped[index]}`).join(', ')
  return `token pairs dropped as ≥ ${equalShareLimit * 100} % equal (shared prefix): ${counts}`
}

function formatted(value: number): string {
  return value.toFixed(3)
}

async function fit(
  activations: ActivationSet,
  options: HprOptions,
  context: FitContext = {},
): Promise<MethodFit> {
  checkActivations(activations, 'hpr', { site, selector })
  const result = await trainHpr(
    activations,
    {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      warmupRatio: options.warmupRatio,
      schedule: options.schedule,
      adamW: { ...paperAdamW, weightDecay: options.weightDecay },
      seed: options.seed,
      threads: 2,
    },
    { topK: options.topK, validationFraction: options.validationFraction, minimumAccuracy: chanceAccuracy },
    context,
  )
  const widths = angleWidths(activations.width)
  const interventions: Intervention[] = result.networks.map((network) => {
    const probe = result.probes.find((entry) => entry.layer === network.layer)
    if (probe === undefined) throw new TillerError('internal', `hpr: no probe for layer ${network.layer}`)
    return {
      layer: network.layer,
      site,
      positions: positionPolicy(options.positions),
      op: {
        kind: 'householder',
        probe: probe.probe,
        angleWidths: [...widths],
        angleWeights: network.weights,
        angleBiases: network.biases,
      },
    }
  })
  const notes = [
    `hpr: ${result.pairs.trainDemonstrations} training / ${result.pairs.validationDemonstrations} validation ` +
      `demonstrations, ${result.pairs.trainRows.length} / ${result.pairs.validationRows.length} token pairs`,
    droppedNote(result.pairs),
    `validation probe accuracy: ${result.probes.map((entry) => `layer ${entry.layer} ${formatted(entry.accuracy)}`).join(', ')}`,
    ...result.skipped.map((note) => `hpr: ${note}`),
    `edited layers (top ${options.topK} by validation probe accuracy): ${result.networks.map((network) => network.layer).join(', ')}`,
    `final training loss: probes (BCE) ${formatted(result.probeLosses.at(-1) ?? Number.NaN)}, angle networks ` +
      `(squared error, rad²) ${formatted(result.angleLosses.at(-1) ?? Number.NaN)}`,
    `validation angle error (rad², at the kept epoch): ${result.networks.map((network) => `layer ${network.layer} ${formatted(network.validationError)}`).join(', ')}`,
    ...result.networks
      .filter(
        (network) =>
          (result.probes.find((entry) => entry.layer === network.layer)?.accuracy ?? 0) <= chanceAccuracy,
      )
      .map(
        (network) =>
          `warning: layer ${network.layer}'s probe is near chance (≤ ${chanceAccuracy}); its edit is unreliable`,
      ),
  ]
  return {
    interventions,
    notes,
    diagnostics: {
      validationProbeAccuracy: result.probes.map((entry) => ({ layer: entry.layer, value: entry.accuracy })),
      validationAngleError: result.networks.map((network) => ({
        layer: network.layer,
        value: network.validationError,
      })),
    },
  }
}

/** HPR at resid_post, probes on every candidate layer, angle networks on the top five. */
export const hpr: Method<HprOptions> = {
  id: 'hpr',
  summary:
    'Householder pseudo-rotation: probe-negative activations rotate toward their reflection, norm kept',
  optionsSchema,
  defaults: {
    layers: undefined,
    topK: 5,
    epochs: 5,
    batchSize: 16,
    learningRate: 5e-4,
    warmupRatio: 0.05,
    schedule: 'linear',
    weightDecay: 0,
    validationFraction: 0.1,
    seed: 0,
    positions: 'all',
  },
  strength: {
    description:
      "α scales the learned rotation angle, γ₁ = α·π·sigmoid(MLP(a)); 0 leaves activations unchanged, 1 is the paper's edit",
    default: 1,
    testedRange: [0, 1],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(options.layers, allLayers(layerCount), layerCount, 'hpr'),
    render: { contrast: 'completion' },
  }),
  fit,
}
