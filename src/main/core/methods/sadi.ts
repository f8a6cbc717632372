/**
 * SADI — Semantics-Adaptive Dynamic Intervention (Wang, Yang & Peng 2025; METHODS.md §6), one method with three
 * variants: `head` (attention heads before o_proj, one score per head), `neuron` (the gated MLP's non-linearity
 * output, `mlp_gate`) and `hidden` (the MLP output, `mlp_out`, as the released code means it).
 *
 * Fit: activations at the last token of prompt + answer at every layer; D = mean over pairs of (A⁺ − A⁻); the
 * mask M holds the top K units of D over all layers jointly (sadi-mask.ts).
 * Runtime (§6.3), `mode`:
 *   live  (the method, default): at the last prompt token, h ← h + strength·(h ⊙ δM), so strength 1 multiplies
 *         each masked element (a head: its whole slice) by 1 + δ. One `scale` op per layer with a masked unit.
 *   patch (reproduction of the released code, "compute, then patch"): a strength-0 pass records the site's clean
 *         values c at the last prompt token at every fitted layer; the steered pass overwrites every element there
 *         with c + strength·(c ⊙ δM). One `patch` op per fitted layer, masked or not, so unmasked elements above
 *         the first masked layer stay frozen at their clean values; below it both modes are the base model.
 * δ = s − 1 with the code's strength s is baked in. Patch-mode edits run in compare, generate and the evaluation
 * (which record the clean values, edits/patch-values.ts); a standalone ONNX export refuses them.
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import type { HookSite, Intervention } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { headLayout, requireFinite, requirePairs, requireTwoClasses } from './activation-checks.ts'
import { topUnits, unitScores } from './sadi-mask.ts'
import {
  allLayers,
  checkActivations,
  layersOption,
  resolveLayers,
  type Method,
  type MethodFit,
} from './method.ts'

const variants = ['head', 'neuron', 'hidden'] as const
type Variant = (typeof variants)[number]

const optionsSchema = z.strictObject({
  variant: z.enum(variants),
  /** Layers the mask ranks over; default every block, as in the paper. */
  layers: layersOption,
  /** K, the masked units (heads or elements); default per variant (variantDefaults). */
  topK: z.number().int().min(1).optional(),
  /** δ = s − 1, the masked units' relative gain at strength 1; default per variant. */
  delta: z.number().finite().optional(),
  /** `signed`: largest positive mean differences (the released code); `absolute`: largest magnitude. */
  rank: z.enum(['signed', 'absolute']),
  /** `live`: scale in place (the method); `patch`: the released code's compute-then-patch (reproduction). */
  mode: z.enum(['live', 'patch']),
})
/** SADI options after parsing (defaults merged). */
export type SadiOptions = z.infer<typeof optionsSchema>

/**
 * Defaults from the middle of the code's search grids (§6.4; no paper default could be confirmed): head K = 4,
 * s = 10 (the spec's UI default); neuron K = 50 of {3 … 500}, s = 30 of {10 … 90}; hidden K = 10 of {1 … 20},
 * s = 10 as for heads, which share its s grid.
 */
export const variantDefaults: Record<Variant, { topK: number; delta: number }> = {
  head: { topK: 4, delta: 9 },
  neuron: { topK: 50, delta: 29 },
  hidden: { topK: 10, delta: 9 },
}

const selector = 'last'

/** The hook site each variant reads and edits. */
export const variantSites: Record<Variant, HookSite> = {
  head: 'attn_heads',
  neuron: 'mlp_gate',
  hidden: 'mlp_out',
}

function fit(activations: ActivationSet, options: SadiOptions): MethodFit {
  const site = variantSites[options.variant]
  checkActivations(activations, 'sadi', { site, selector })
  requirePairs(activations, 'sadi')
  requireFinite(activations, 'sadi')
  requireTwoClasses(activations, 'sadi')
  const unitWidth = options.variant === 'head' ? headLayout(activations, 'sadi').headDim : 1
  const unitName = { head: 'head', neuron: 'neuron', hidden: 'element' }[options.variant]
  const { topK, delta } = { ...variantDefaults[options.variant], ...definedOnly(options) }
  const scores = unitScores(activations, unitWidth)
  if (topK > scores.length) {
    throw new TillerError(
      'invalid-argument',
      `sadi: option "topK" is ${topK}, but ${activations.layers.length} layers hold only ${scores.length} ` +
        `${unitName}s; choose 1…${scores.length}.`,
      { subject: 'topK' },
    )
  }
  const selected = topUnits(scores, topK, options.rank)
  const factors = new Map<number, Float32Array>()
  for (const entry of selected) {
    const layer = activations.layers[entry.layerIndex] as number
    const layerFactors = factors.get(layer) ?? new Float32Array(activations.width)
    layerFactors.fill(delta, entry.unit * unitWidth, (entry.unit + 1) * unitWidth)
    factors.set(layer, layerFactors)
  }
  const interventions: Intervention[] =
    options.mode === 'patch'
      ? [...activations.layers]
          .sort((first, second) => first - second)
          .map((layer) => ({
            layer,
            site,
            positions: { kind: 'lastPromptToken' },
            op: { kind: 'patch', factors: factors.get(layer) ?? new Float32Array(activations.width) },
          }))
      : [...factors.entries()]
          .sort(([first], [second]) => first - second)
          .map(([layer, values]) => ({
            layer,
            site,
            positions: { kind: 'lastPromptToken' },
            op: { kind: 'scale', factors: values },
          }))
  const notes = [
    `SADI-${options.variant.toUpperCase()}: top ${topK} ${unitName}s of ${scores.length} by ${options.rank} mean ` +
      `difference over ${activations.rows} pairs; δ = ${delta} (s = ${delta + 1}) at the last prompt token ` +
      (options.mode === 'patch'
        ? `(patch mode: every element at ${activations.layers.length} layers overwritten from a clean pass)`
        : '(live mode)'),
    ...[...selected]
      .sort((first, second) => first.layerIndex - second.layerIndex || first.unit - second.unit)
      .map(
        (entry) =>
          `layer ${activations.layers[entry.layerIndex]} ${unitName} ${entry.unit}: mean difference ` +
          entry.score.toPrecision(4),
      ),
  ]
  if (Math.abs(delta) > 20) {
    notes.push(
      `δ = ${delta} multiplies the masked activations by ${delta + 1}; large gains can blow up norms`,
    )
  }
  const diagnostics = {
    'largest mean difference': activations.layers.map((layer, layerIndex) => ({
      layer,
      value: Math.max(
        ...scores.filter((entry) => entry.layerIndex === layerIndex).map((entry) => entry.score),
      ),
    })),
    'masked units': activations.layers.map((layer, layerIndex) => ({
      layer,
      value: selected.filter((entry) => entry.layerIndex === layerIndex).length,
    })),
  }
  return { interventions, notes, diagnostics }
}

/** The options the user set (undefined ones fall back to the variant's defaults). */
function definedOnly(options: SadiOptions): Partial<{ topK: number; delta: number }> {
  return {
    ...(options.topK === undefined ? {} : { topK: options.topK }),
    ...(options.delta === undefined ? {} : { delta: options.delta }),
  }
}

/** SADI: scale the units with the largest mean contrast at the last prompt token. */
export const sadi: Method<SadiOptions> = {
  id: 'sadi',
  summary:
    'SADI: scale the top-K heads/neurons/MLP elements by mean contrast by 1 + δ at the last prompt token',
  optionsSchema,
  defaults: {
    variant: 'head',
    layers: undefined,
    topK: undefined,
    delta: undefined,
    rank: 'signed',
    mode: 'live',
  },
  strength: {
    description:
      'masked units are multiplied by 1 + strength·δ at the last prompt token; strength 1 is the fit’s s',
    default: 1,
    testedRange: [0, 1],
  },
  capture: (options, layerCount) => ({
    site: variantSites[options.variant],
    selector,
    layers: resolveLayers(options.layers, allLayers(layerCount), layerCount, 'sadi'),
    render: { contrast: 'completion' },
  }),
  fit,
}
