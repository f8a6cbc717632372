import type { EvaluationRun } from '../../src/shared/evaluation.ts'
import type { LayerDiagnosticsReport } from '../../src/shared/layer-diagnostics.ts'
import type { DatasetEntry, EditSummary, MethodDescription } from '../../src/shared/steering.ts'

/** Plain answers for the Fit and Evaluate screens' tests. */

export const pairsEntry: DatasetEntry = {
  name: 'sentiment.pairs',
  behaviour: 'sentiment',
  path: '/data/sentiment.pairs.jsonl',
  kind: 'pairs',
  rows: 176,
  trainPairs: 128,
  issues: 0,
  bundled: true,
}

export const itemEntries: DatasetEntry[] = ['fairness', 'sentiment'].map((behaviour) => ({
  ...pairsEntry,
  name: `${behaviour}.mc`,
  behaviour,
  path: `/data/${behaviour}.mc.jsonl`,
  kind: 'choices',
  rows: 120,
  trainPairs: 0,
}))

export const meanDiff: MethodDescription = {
  id: 'mean-diff',
  summary: 'Mean difference of positive and negative activations at resid_post.',
  site: 'resid_post',
  selector: 'completionMean',
  options: [
    {
      name: 'layers',
      kind: 'layers',
      description: '0-based blocks',
      default: null,
      optional: true,
      maxItems: 1,
    },
    {
      name: 'selector',
      kind: 'choice',
      description: 'Which tokens are read.',
      default: 'completionMean',
      optional: false,
      choices: ['completionMean', 'lastPrompt'],
    },
  ],
  defaults: { selector: 'completionMean' },
  defaultLayers: [2],
  strength: { description: 'h + α·v at every position', default: 1, testedRange: [-2, 2] },
}

export const report: LayerDiagnosticsReport = {
  dataset: pairsEntry.path,
  site: 'resid_post',
  selector: 'completionMean',
  pairs: 64,
  heldOutRows: 32,
  rows: [0, 1, 2, 3, 4, 5].map((layer) => ({
    layer,
    probeAccuracy: layer === 3 ? 1 : 0.9,
    separation: layer + 1,
    meanNorm: 100 * (layer + 1),
  })),
  recommendedLayer: 3,
  reason: 'Layer 3 has the best held-out probe accuracy (100 %) of the inner layers.',
}

export const fittedEdit: EditSummary = {
  id: 'edit-1',
  method: 'mean-diff',
  label: 'mean-diff · sentiment.pairs · layer 3',
  origin: 'fitted',
  path: null,
  created: '2026-01-01T00:00:00.000Z',
  layers: [3],
  sites: ['resid_post'],
  interventions: 1,
  notes: 'fitted on 128 pairs',
  dataset: { hash: 'abc', size: 176 },
  strength: meanDiff.strength,
  matchesModel: true,
  suggestedPath: '/edits/mean-diff.safetensors',
}

const estimate = (value: number, low: number, high: number) => ({ value, low, high })

export function sampleRun(id = 'run-1'): EvaluationRun {
  return {
    id,
    created: '2026-01-02T10:00:00.000Z',
    model: 'organism',
    edit: { id: fittedEdit.id, label: fittedEdit.label, method: 'mean-diff', layers: [3] },
    dataset: { path: '/data/sentiment.mc.jsonl', name: 'sentiment.mc', behaviour: 'sentiment' },
    chance: { mc1: 0.5, mc2: 0.5, choiceCounts: [2] },
    fluencyLimit: 0.1,
    validation: {
      items: 60,
      texts: 100,
      sweep: [
        {
          strength: 0,
          mc1: estimate(0.6, 0.47, 0.72),
          mc2: estimate(0.58, 0.5, 0.66),
          perplexity: 3,
          klFromBase: 0,
          fluent: true,
        },
        {
          strength: 1,
          mc1: estimate(0.8, 0.68, 0.88),
          mc2: estimate(0.7, 0.6, 0.8),
          perplexity: 3.1,
          klFromBase: 0.02,
          fluent: true,
        },
        {
          strength: 2,
          mc1: estimate(0.9, 0.8, 0.95),
          mc2: estimate(0.8, 0.7, 0.9),
          perplexity: 3.6,
          klFromBase: 0.2,
          fluent: false,
        },
      ],
    },
    chosenStrength: 1,
    choiceReason:
      'Strength 1 has the best validation MC1 (80.0 %) among the strengths whose perplexity stays within +10 % of the base.',
    test: {
      items: 60,
      texts: 200,
      base: {
        strength: 0,
        mc1: estimate(0.55, 0.42, 0.67),
        mc2: estimate(0.56, 0.5, 0.62),
        perplexity: 3.02,
        bitsPerByte: 0.4,
        klFromBase: null,
      },
      edited: {
        strength: 1,
        mc1: estimate(0.75, 0.63, 0.84),
        mc2: estimate(0.68, 0.6, 0.75),
        perplexity: 3.12,
        bitsPerByte: 0.41,
        klFromBase: 0.021,
      },
      shift: { items: 60, falseToTrue: 0.25, trueToFalse: 0.05, remainsTrue: 0.5, remainsFalse: 0.2 },
    },
    sideEffects: [
      {
        dataset: 'fairness.mc',
        behaviour: 'fairness',
        items: 60,
        base: estimate(0.9, 0.8, 0.95),
        edited: estimate(0.5, 0.38, 0.62),
      },
    ],
    path: `/workspace/runs/${id}.json`,
  }
}
