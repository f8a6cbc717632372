/**
 * HPR's whole fit on captured activations: token pairs and split (token-pairs.ts), probes for every candidate
 * layer (train-probes.ts), the top-k layers by validation probe accuracy, their angle networks (train-angles.ts),
 * and the checks that keep a failed fit from becoming an edit (no separable layer, non-finite weights).
 */
import type { ActivationSet } from '../../../../shared/activations.ts'
import { TillerError } from '../../errors.ts'
import type { FitContext } from '../method.ts'
import { trainAngles, type AngleResult } from './train-angles.ts'
import { trainProbes, type ProbeResult } from './train-probes.ts'
import { prepareTokenPairs, type LayerPairs, type TokenPairs } from './token-pairs.ts'
import type { HprTrainingSettings } from './training-settings.ts'

/** How layers are chosen. */
export interface LayerSelection {
  topK: number
  validationFraction: number
  /** Refuse the fit when no layer's validation probe accuracy exceeds this. */
  minimumAccuracy: number
}

/** Everything the fit learned. */
export interface HprTrainingResult {
  pairs: TokenPairs
  /** Every trained probe, by ascending layer. */
  probes: ProbeResult[]
  /** Why candidate layers got no probe. */
  skipped: string[]
  /** Angle networks of the selected layers, best probe accuracy first. */
  networks: AngleResult[]
  probeLosses: number[]
  angleLosses: number[]
}

/** Widths of the angle network for activations of `width`: halving three times, then a scalar [width, …, 1]. */
export function angleWidths(width: number): number[] {
  return [
    width,
    Math.max(1, Math.floor(width / 2)),
    Math.max(1, Math.floor(width / 4)),
    Math.max(1, Math.floor(width / 8)),
    1,
  ]
}

function parameterCount(widths: readonly number[]): number {
  let total = 0
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    total += ((widths[linear] as number) + 1) * (widths[linear + 1] as number)
  }
  return total
}

function checkFinite(values: Float32Array, layer: number, what: string): void {
  if (values.every(Number.isFinite)) return
  throw new TillerError(
    'internal',
    `hpr: training produced non-finite ${what} at layer ${layer}; try a smaller learningRate.`,
    { subject: 'learningRate' },
  )
}

/** Train HPR's probes and angle networks on `activations` (resid_post, completionTokens). */
export async function trainHpr(
  activations: ActivationSet,
  settings: HprTrainingSettings,
  selection: LayerSelection,
  context: FitContext = {},
): Promise<HprTrainingResult> {
  const pairs = prepareTokenPairs(activations, {
    validationFraction: selection.validationFraction,
    seed: settings.seed,
  })
  const skipped: string[] = []
  const candidates: LayerPairs[] = []
  for (const entry of pairs.layers) {
    if (entry.keptTrain > 0 && entry.keptValidation > 0) candidates.push(entry)
    else {
      skipped.push(
        `layer ${entry.layer} has ${entry.keptTrain} training and ${entry.keptValidation} validation token pairs ` +
          'left after dropping near-identical ones; it gets no probe',
      )
    }
  }
  if (candidates.length === 0) {
    throw new TillerError(
      'invalid-dataset',
      'hpr: after dropping token pairs whose activations are ≥ 75 % equal, no layer has both training and ' +
        'validation pairs. Use more demonstrations, or ones whose responses differ from their first token.',
    )
  }
  const widths = angleWidths(pairs.width)
  const keptLayers = Math.min(selection.topK, candidates.length)
  // Progress share of each phase, by multiply-adds per row and step (angle networks: forward plus backward).
  const probeWork = candidates.length * pairs.width
  const angleWork = keptLayers * parameterCount(widths) * 3
  const report = (phaseStart: number, phaseShare: number) => (step: number, steps: number, message: string) =>
    context.onProgress?.(phaseStart + (phaseShare * step) / steps, message)
  const probeShare = probeWork / (probeWork + angleWork)

  const probePhase = await trainProbes(pairs, candidates, settings, context, report(0, probeShare))
  for (const probe of probePhase.probes) checkFinite(probe.probe, probe.layer, 'probe weights')
  const ranked = [...probePhase.probes].sort((a, b) => b.accuracy - a.accuracy || a.layer - b.layer)
  const best = ranked[0] as ProbeResult
  if (best.accuracy <= selection.minimumAccuracy) {
    throw new TillerError(
      'invalid-dataset',
      `hpr: no probe separates the positive from the negative activations: the best validation accuracy is ` +
        `${best.accuracy.toFixed(3)} (layer ${best.layer}), at most ${selection.minimumAccuracy}. An edit from ` +
        'these probes would rotate tokens at random; use more or clearer contrast pairs.',
    )
  }
  const chosen = ranked.slice(0, keptLayers)
  for (const probe of chosen) {
    if (probe.probe.every((value) => value === 0)) {
      throw new TillerError(
        'internal',
        `hpr: the probe of layer ${probe.layer} is zero; its reflection is undefined.`,
      )
    }
  }
  const tasks = chosen.map((probe) => candidates.find((entry) => entry.layer === probe.layer) as LayerPairs)
  const anglePhase = await trainAngles(
    pairs,
    tasks,
    widths,
    settings,
    context,
    report(probeShare, 1 - probeShare),
  )
  for (const network of anglePhase.networks) {
    for (const values of [...network.weights, ...network.biases])
      checkFinite(values, network.layer, 'angle weights')
  }
  context.onProgress?.(
    1,
    `hpr: trained ${probePhase.probes.length} probes and ${tasks.length} angle networks`,
  )
  return {
    pairs,
    probes: probePhase.probes.sort((a, b) => a.layer - b.layer),
    skipped,
    networks: anglePhase.networks,
    probeLosses: probePhase.epochLosses,
    angleLosses: anglePhase.epochLosses,
  }
}
