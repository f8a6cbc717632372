/**
 * The shape every editing method shares (STYLE.md principle 5): an options schema with the paper's defaults, what
 * to capture, and a pure `fit` over captured Float32Array activations that returns interventions.
 *
 * `fit` never touches a model or a session, so METHODS.md's hand cases test it directly on synthetic activations.
 */
import { z } from 'zod'
import type { ActivationSet, PositionSelector } from '../../../shared/activations.ts'
import type { HookSite, Intervention, MethodId } from '../../../shared/edit.ts'
import type { RenderOptions } from '../data/render.ts'
import { TillerError } from '../errors.ts'

/** What a method needs captured before it can fit. */
export interface CaptureRequest {
  site: HookSite
  selector: PositionSelector
  /** 0-based decoder blocks, ascending. */
  layers: number[]
  /** How the demonstrations must be rendered for the selector to read the right tokens. */
  render: Partial<RenderOptions>
}

/** How the runtime strength α acts on the method's edit, and the range its paper used. */
export interface StrengthSemantics {
  description: string
  default: number
  testedRange: [number, number]
}

/** A fit's interventions plus human-readable notes (norms, explained variance, vote counts) for reports. */
export interface MethodFit {
  interventions: Intervention[]
  notes: string[]
  /** Per-layer numbers for plots (probe accuracy, explained variance, …), keyed by what they measure. */
  diagnostics?: Record<string, Array<{ layer: number; value: number }>>
}

/**
 * SEA's neutral activations: the model's own greedy response to each prompt, read at the last token fed to the
 * model (METHODS.md §1.3). The pipeline generates and captures them when a method asks (`Method.neutral`).
 */
export interface NeutralCaptureRequest {
  site: HookSite
  /** 0-based decoder blocks, ascending. */
  layers: number[]
  /** Greedy tokens generated per prompt before reading the final step. */
  maxNewTokens: number
}

/** Neutral activations: per layer `[rows, width]`, one row per prompt. */
export interface NeutralActivations {
  site: HookSite
  layers: number[]
  width: number
  rows: number
  values: Float32Array[]
}

/**
 * What a fit may use besides activations and options. Fits stay pure (no model, no session); training loops
 * report progress and stop when the signal aborts.
 */
export interface FitContext {
  /** Present when the method asked for neutral activations. */
  neutral?: NeutralActivations
  signal?: AbortSignal
  /** `fraction` in [0, 1] of the fit itself. */
  onProgress?: (fraction: number, message: string) => void
}

/** One editing method. `Options` is the parsed (defaults-merged) options object. */
export interface Method<Options extends Record<string, unknown>> {
  id: MethodId
  summary: string
  optionsSchema: z.ZodType<Options>
  /** The paper's defaults (layers resolve against the model's depth in `capture`). */
  defaults: Options
  strength: StrengthSemantics
  capture(options: Options, layerCount: number): CaptureRequest
  /** Neutral activations the fit also needs (SEA); absent for methods that need none. */
  neutral?(options: Options, layerCount: number): NeutralCaptureRequest | undefined
  fit(activations: ActivationSet, options: Options, context?: FitContext): MethodFit | Promise<MethodFit>
}

/** The `layers` option of a method that fits at one or more blocks (0-based; default: the method's paper layers). */
export const layersOption = z.array(z.number().int().min(0)).min(1).optional()

/** The `layers` option of a method that fits at exactly one block. */
export const singleLayerOption = z.array(z.number().int().min(0)).min(1).max(1).optional()

/**
 * The block at `fraction` of the depth, e.g. CAA's layer 13 of 32 → 13/32, clamped to `[0, layerCount − 1]`.
 * Papers give one layer for one model; scaling it by depth is Tiller's default for other depths.
 */
export function layerAtFraction(fraction: number, layerCount: number): number {
  return Math.min(layerCount - 1, Math.max(0, Math.round(fraction * layerCount)))
}

/** Every block of a model with `layerCount` blocks, `[0, …, layerCount − 1]`. */
export function allLayers(layerCount: number): number[] {
  return Array.from({ length: layerCount }, (_, layer) => layer)
}

/** Check user-chosen layers against the model's depth; `single` methods take exactly one. */
export function resolveLayers(
  chosen: readonly number[] | undefined,
  fallback: readonly number[],
  layerCount: number,
  method: MethodId,
  single = false,
): number[] {
  const layers = [...new Set(chosen ?? fallback)].sort((a, b) => a - b)
  const outside = layers.find((layer) => !Number.isInteger(layer) || layer < 0 || layer >= layerCount)
  if (outside !== undefined) {
    throw new TillerError(
      'invalid-argument',
      `${method}: layer ${outside} does not exist; the model has blocks 0…${layerCount - 1}.`,
      { subject: 'layers' },
    )
  }
  if (layers.length === 0) throw new TillerError('invalid-argument', `${method}: choose at least one layer.`)
  if (single && layers.length !== 1) {
    throw new TillerError(
      'invalid-argument',
      `${method}: fits at exactly one layer; got ${layers.join(', ')}.`,
      {
        subject: 'layers',
      },
    )
  }
  return layers
}

/** Refuse activations captured at another site or with another selector, or whose matrices have the wrong size. */
export function checkActivations(
  activations: ActivationSet,
  method: MethodId,
  expected: { site: HookSite; selector: PositionSelector },
): void {
  if (activations.site !== expected.site || activations.selector !== expected.selector) {
    throw new TillerError(
      'invalid-argument',
      `${method} fits on ${expected.site}/${expected.selector} activations; these are ` +
        `${activations.site}/${activations.selector}.`,
    )
  }
  if (activations.rows === 0) throw new TillerError('invalid-dataset', `${method}: no activations to fit on.`)
  const size = activations.rows * activations.width
  activations.layers.forEach((layer, index) => {
    const positive = activations.positive[index]
    const negative = activations.negative[index]
    if (positive?.length !== size || negative?.length !== size) {
      throw new TillerError(
        'shape-mismatch',
        `${method}: activations at layer ${layer} are not [${activations.rows}, ${activations.width}].`,
      )
    }
  })
}

/** The one captured layer of a method that fits at exactly one block; refuses activations from several. */
export function singleCapturedLayer(activations: ActivationSet, method: MethodId): number {
  const layer = activations.layers[0]
  if (activations.layers.length !== 1 || layer === undefined) {
    throw new TillerError(
      'invalid-argument',
      `${method} fits at exactly one layer; these activations hold layers ${activations.layers.join(', ')}.`,
      { subject: 'layers' },
    )
  }
  return layer
}

/** The positive and negative matrices `[rows, width]` of the i-th captured layer. */
export function layerMatrices(
  activations: ActivationSet,
  index: number,
): { positive: Float32Array; negative: Float32Array } {
  return {
    positive: activations.positive[index] as Float32Array,
    negative: activations.negative[index] as Float32Array,
  }
}

/** Parse user options over the defaults; errors name the option. */
export function parseOptions<Options extends Record<string, unknown>>(
  method: Method<Options>,
  input: Record<string, unknown>,
): Options {
  const result = method.optionsSchema.safeParse({ ...method.defaults, ...input })
  if (!result.success) {
    const issue = result.error.issues[0]
    if (issue?.code === 'unrecognized_keys') {
      throw new TillerError(
        'invalid-argument',
        `${method.id} has no option ${issue.keys.map((key) => `"${key}"`).join(', ')}.`,
        {
          subject: issue.keys[0],
        },
      )
    }
    const field = issue?.path.join('.') ?? ''
    throw new TillerError(
      'invalid-argument',
      `${method.id}: option "${field}" ${issue?.message ?? 'is invalid'}.`,
      {
        subject: field,
      },
    )
  }
  return result.data
}
