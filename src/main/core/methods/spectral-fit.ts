/**
 * The fit shared by SEA and Φ-SEA (METHODS.md §1.4): per layer, the left singular vectors of the
 * cross-covariances Ω± = H H±ᵀ / N of neutral activations H with positive and negative ones, cut at the
 * explained-variance shares K±, become one `spectral` op (keep = top k⁺ of Ω⁺, remove = top k⁻ of Ω⁻).
 *
 * No model and no session of it: activations in, interventions out. The d×d matrices are never formed
 * (spectral-subspace.ts). Small problems form the N×N Grams in float64 JavaScript; large ones run Lanczos
 * matrix-free through thin ONNX Runtime products (N · width per step instead of N² · width per Gram), falling back
 * to ONNX Runtime Grams for a side whose cut-off a step budget does not settle.
 */
import type { ActivationSet } from '../../../shared/activations.ts'
import type { HookSite, Intervention, Op } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { javascriptProducts, type MatrixProducts } from '../linalg/matrix-products.ts'
import { overBudget } from '../linalg/gram-lanczos.ts'
import { onnxProducts } from '../linalg/onnx-products.ts'
import {
  lockstepReflect,
  onnxRowProducts,
  type LockstepMember,
  type RowProducts,
} from '../linalg/row-products.ts'
import {
  defaultProbes,
  gaussianProbes,
  sketchNeutral,
  type NeutralSketch,
} from '../linalg/sketched-operators.ts'
import { columnMeans } from '../linalg/statistics.ts'
import { layerMatrices, type MethodFit, type NeutralActivations } from './method.ts'
import { applyFeatureMap } from './spectral-feature-map.ts'
import { matrixFreeSubspace, singularSubspace, type SingularSubspace } from './spectral-subspace.ts'

type SpectralOp = Extract<Op, { kind: 'spectral' }>

/** What the spectral fit needs from a method's parsed options. */
export interface SpectralFitOptions {
  site: HookSite
  /** K⁺ in (0, 1). */
  positiveVariance: number
  /** K⁻ in (0, 1). */
  negativeVariance: number
  merge: SpectralOp['merge']
  phi: SpectralOp['phi']
  phiMode: SpectralOp['phiMode']
  /** Subtract each matrix's mean over samples first (a deviation from the released code, METHODS.md §1.4). */
  centering: boolean
}

/** Back-end choice (default: by problem size). */
export interface SpectralFitSettings {
  /** Products for the Grams and the basis combination. */
  products?: MatrixProducts
  /** 'grams': N×N Grams then Lanczos; 'matrix-free': Lanczos through thin products (needs ONNX Runtime). */
  strategy?: 'grams' | 'matrix-free'
  /** Lanczos steps per side before the matrix-free strategy falls back to the Grams. */
  maxSteps?: number
}

/** Below this many multiply-adds per Gram (rows² · width) JavaScript float64 is fast enough and exact. */
const onnxThreshold = 2 ** 26

/**
 * The matrix-free strategy's step budget: a step costs 4 · N · width against 1.5 · N² · width for the Grams of a
 * layer (neutral shared by the two sides), so past about N / 10 steps per side the Grams are as cheap.
 */
function defaultMaxSteps(rows: number): number {
  return Math.max(16, Math.ceil(rows / 10))
}

/** Relative rounding level of each back end's Grams: the span and cluster tolerances follow from it. */
function precisionOf(products: MatrixProducts): number {
  return products === javascriptProducts ? 1e-12 : 1e-6
}

function checkFinite(values: Float32Array, width: number, what: string, layer: number, ids: string[]): void {
  for (let index = 0; index < values.length; index++) {
    if (!Number.isFinite(values[index] as number)) {
      const row = Math.floor(index / width)
      throw new TillerError(
        'invalid-dataset',
        `${what} activations at layer ${layer}, row ${row} (${ids[row] ?? `pair ${row}`}) contain ` +
          `${String(values[index])}; the model overflowed on that example — remove it or use a float32 model.`,
        { subject: ids[row] ?? `row ${row}` },
      )
    }
  }
}

function centred(values: Float32Array, rows: number, width: number): Float32Array {
  const means = columnMeans(values, rows, width)
  const result = new Float32Array(values.length)
  for (let index = 0; index < values.length; index++) {
    result[index] = (values[index] as number) - (means[index % width] as number)
  }
  return result
}

/** True when every column mean is finite: a NaN or ±Inf entry makes its column's mean non-finite. */
function finiteMeans(means: Float64Array): boolean {
  for (const value of means) if (!Number.isFinite(value)) return false
  return true
}

/** Σ x² in float64 (non-finite iff some entry is: float32 squares cannot overflow float64). */
function sumOfSquares(values: Float32Array): number {
  let sum = 0
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as number
    sum += value * value
  }
  return sum
}

/** SEA's layer-selection signature: Σ singular values of X Yᵀ / N = [mean⁺, mean⁻] `[width, 2]`. */
function signature(positiveMean: Float64Array, negativeMean: Float64Array, width: number): number {
  let aa = 0
  let ab = 0
  let bb = 0
  for (let column = 0; column < width; column++) {
    const a = positiveMean[column] as number
    const b = negativeMean[column] as number
    aa += a * a
    ab += a * b
    bb += b * b
  }
  // Eigenvalues of the 2×2 Gram [[aa, ab], [ab, bb]] are the squared singular values.
  const half = (aa + bb) / 2
  const spread = Math.sqrt(Math.max(0, ((aa - bb) / 2) ** 2 + ab * ab))
  return Math.sqrt(Math.max(0, half + spread)) + Math.sqrt(Math.max(0, half - spread))
}

function neutralMatrix(
  neutral: NeutralActivations | undefined,
  activations: ActivationSet,
  layer: number,
  method: string,
): Float32Array {
  if (neutral === undefined) {
    throw new TillerError(
      'invalid-argument',
      `${method} needs neutral activations (the model's own responses); fit through the fit pipeline.`,
    )
  }
  if (neutral.rows !== activations.rows || neutral.width !== activations.width) {
    throw new TillerError(
      'shape-mismatch',
      `${method}: neutral activations are [${neutral.rows}, ${neutral.width}] but the pairs give ` +
        `[${activations.rows}, ${activations.width}]; capture one neutral row per pair on the same model.`,
    )
  }
  const index = neutral.layers.indexOf(layer)
  const values = neutral.values[index]
  if (index < 0 || values?.length !== neutral.rows * neutral.width) {
    throw new TillerError(
      'shape-mismatch',
      `${method}: neutral activations lack layer ${layer}; capture them at layers ${activations.layers.join(', ')}.`,
      { subject: `layer ${layer}` },
    )
  }
  return values
}

/**
 * Fit one spectral op per captured layer.
 * @param activations positive/negative `[rows, width]` per layer, one row per pair (selector 'last')
 * @param neutral one row per pair per layer, same rows and width
 */
export async function fitSpectral(
  method: 'sea' | 'phi-sea',
  activations: ActivationSet,
  neutral: NeutralActivations | undefined,
  options: SpectralFitOptions,
  settings: SpectralFitSettings = {},
): Promise<MethodFit> {
  const { rows, width } = activations
  if (rows < 2) {
    throw new TillerError(
      'invalid-dataset',
      `${method} needs at least 2 pairs to estimate a cross-covariance; got ${rows}. Add training pairs.`,
    )
  }
  const strategy =
    settings.strategy ??
    (settings.products === undefined && rows * rows * width >= onnxThreshold ? 'matrix-free' : 'grams')
  const products =
    settings.products ??
    (strategy === 'matrix-free' || rows * rows * width >= onnxThreshold ? onnxProducts() : javascriptProducts)
  const rowProducts: RowProducts | undefined = strategy === 'matrix-free' ? onnxRowProducts() : undefined
  const maxSteps = settings.maxSteps ?? defaultMaxSteps(rows)
  let probes: Float32Array | undefined
  const precision = precisionOf(products)
  const interventions: Intervention[] = []
  const notes: string[] = []
  const diagnostics: Required<MethodFit>['diagnostics'] = {
    keepRank: [],
    removeRank: [],
    keepExplained: [],
    removeExplained: [],
    signature: [],
  }
  try {
    for (const [index, layer] of activations.layers.entries()) {
      const raw = layerMatrices(activations, index)
      const rawNeutral = neutralMatrix(neutral, activations, layer, method)
      // One pass per matrix: the sums double as the finiteness check (the row-by-row scan runs only to name a row).
      const rawSquares = sumOfSquares(rawNeutral)
      if (!Number.isFinite(rawSquares)) {
        checkFinite(rawNeutral, width, 'neutral', layer, activations.exampleIds)
      }
      const positiveMean = columnMeans(raw.positive, rows, width)
      if (!finiteMeans(positiveMean))
        checkFinite(raw.positive, width, 'positive', layer, activations.exampleIds)
      const negativeMean = columnMeans(raw.negative, rows, width)
      if (!finiteMeans(negativeMean))
        checkFinite(raw.negative, width, 'negative', layer, activations.exampleIds)
      const prepare = (values: Float32Array): Float32Array => {
        const mapped = applyFeatureMap(options.phi, values)
        return options.centering ? centred(mapped, rows, width) : mapped
      }
      const neutralValues = prepare(rawNeutral)
      // The identity map without centring returns the raw matrix itself: its sum is already known.
      if (!((neutralValues === rawNeutral ? rawSquares : sumOfSquares(neutralValues)) > 0)) {
        throw new TillerError(
          'invalid-dataset',
          `${method}: the neutral activations at layer ${layer} are all zero${options.centering ? ' after centring' : ''}, ` +
            'so there is no subspace to keep or remove; check the model and the prompts.',
          { subject: `layer ${layer}` },
        )
      }
      // The neutral Gram, formed once per layer and only when a side needs it.
      let gram: Promise<Float64Array> | undefined
      const neutralGram = () => (gram ??= products.gram(neutralValues, neutralValues, rows, width))
      // Matrix-free: one probe sketch of the neutral matrix, and G x for both sides in lockstep (one run for two).
      let sketch: NeutralSketch | undefined
      let members: LockstepMember[] = []
      if (rowProducts !== undefined) {
        probes ??= gaussianProbes(defaultProbes, width)
        sketch = await sketchNeutral(rowProducts, rowProducts.matrix(neutralValues, rows, width), probes)
        const lockstep = lockstepReflect(rowProducts, sketch.matrix)
        members = [lockstep.join(), lockstep.join()]
      }
      const subspace = async (
        side: Float32Array,
        threshold: number,
        member: LockstepMember | undefined,
      ): Promise<SingularSubspace | undefined> => {
        try {
          const prepared = prepare(side)
          if (rowProducts !== undefined && sketch !== undefined) {
            const found = await matrixFreeSubspace(
              sketch,
              neutralValues,
              rowProducts.matrix(prepared, rows, width),
              threshold,
              maxSteps,
              rowProducts,
              products,
              member,
            )
            if (found !== overBudget) return found
          }
          return await singularSubspace(
            neutralValues,
            await neutralGram(),
            prepared,
            rows,
            width,
            threshold,
            precision,
            products,
          )
        } finally {
          member?.leave()
        }
      }
      const [keep, remove] = await Promise.all([
        subspace(raw.positive, options.positiveVariance, members[0]),
        subspace(raw.negative, options.negativeVariance, members[1]),
      ])
      for (const [name, found] of [
        ['positive', keep],
        ['negative', remove],
      ] as const) {
        if (found === undefined) {
          throw new TillerError(
            'invalid-dataset',
            `${method}: at layer ${layer} the ${name} activations do not co-vary with the neutral ones ` +
              `(all singular values are 0)${options.centering ? '; with centring on, equal rows cancel — turn centring off' : ''}. ` +
              'Check that the pairs differ and the activations are not zero.',
            { subject: `layer ${layer}` },
          )
        }
      }
      const kept = keep as NonNullable<typeof keep>
      const removed = remove as NonNullable<typeof remove>
      interventions.push({
        layer,
        site: options.site,
        positions: { kind: 'all' },
        op: {
          kind: 'spectral',
          keep: kept.basis,
          keepRank: kept.rank,
          remove: removed.basis,
          removeRank: removed.rank,
          merge: options.merge,
          phi: options.phi,
          phiMode: options.phiMode,
        },
      })
      const layerSignature = signature(positiveMean, negativeMean, width)
      diagnostics.keepRank?.push({ layer, value: kept.rank })
      diagnostics.removeRank?.push({ layer, value: removed.rank })
      diagnostics.keepExplained?.push({ layer, value: kept.explained })
      diagnostics.removeExplained?.push({ layer, value: removed.explained })
      diagnostics.signature?.push({ layer, value: layerSignature })
      notes.push(
        `layer ${layer}: keep k⁺ = ${kept.rank} (${(100 * kept.explained).toFixed(2)} % of Σσ²), ` +
          `remove k⁻ = ${removed.rank} (${(100 * removed.explained).toFixed(2)} %), ` +
          `signature ${layerSignature.toPrecision(4)}`,
      )
    }
  } finally {
    if (settings.products === undefined) await products.release()
    await rowProducts?.release()
  }
  return { interventions, notes, diagnostics }
}
