/**
 * The fit pipeline shared by `tiller fit` and the engine (DESIGN.md §1): demonstrations → render (chat template,
 * spans) → capture (hooked forward passes) → `method.fit` → an Edit stamped with the model's fingerprint, plus
 * what an edit file records about the fit (template, dataset hash).
 *
 * Rows whose split is `validation` or `test` are left out. Every check that needs no model (method, options,
 * dataset) runs before a model is loaded, so bad input fails fast.
 */
import type { Edit, ModelFingerprint } from '../../../shared/edit.ts'
import type { ExecutionProviderChoice } from '../../../shared/engine-status.ts'
import type { FitSummary } from '../../../shared/steering.ts'
import { captureActivations } from '../capture/capture.ts'
import { captureNeutral } from '../capture/neutral.ts'
import { hashDemonstrations } from '../data/hash.ts'
import { assertFittable, readFittableFile } from '../data/fit-validation.ts'
import { contrastPairs } from '../data/pairs.ts'
import { renderPairs, type RenderOptions } from '../data/render.ts'
import type { DemonstrationSet } from '../data/schema.ts'
import { loadRenderTokenizer } from '../data/tokenizer.ts'
import type { EditFileExtras } from '../edits/edit-file.ts'
import { fingerprintModel } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'
import { fitEdit, methodById, type AnyMethod } from '../methods/index.ts'
import { parseOptions, type FitContext } from '../methods/method.ts'
import { smokeCheckEdit } from './smoke-check.ts'

/** Where a fit is: which stage, its overall fraction in [0, 1], and a short message. */
export interface FitProgress {
  stage: 'render' | 'capture' | 'neutral' | 'fit'
  fraction: number
  message: string
}

/** A model folder to load for the fit (and release afterwards). */
export interface ModelFolderReference {
  folder: string
  provider?: ExecutionProviderChoice
  /** A Transformers.js graph variant (`q4`, `fp16`, …); default the folder's default graph. */
  variant?: string
}

/** What to fit. */
export interface FitRequest {
  /** A loaded model (kept loaded), or a folder loaded for this fit only. */
  model: LoadedModel | ModelFolderReference
  /** A demonstration file (JSONL) or an already parsed set. */
  data: string | DemonstrationSet
  /** A method or its id. */
  method: AnyMethod | string
  /** The method's options; unknown ones are refused by name, the rest merge over its defaults. */
  options?: Record<string, unknown>
  /** Rendering overrides for models with unusual prompts: system prompt, plain format. */
  render?: Partial<Pick<RenderOptions, 'systemPrompt' | 'plain'>>
  /** Pairs per forward pass (default 8). */
  batchSize?: number
  /** The model's fingerprint when the caller already has it (saves hashing the weights again). */
  fingerprint?: ModelFingerprint
  onProgress?: (progress: FitProgress) => void
  signal?: AbortSignal
  /** Run the fitted edit on one demonstration and refuse non-finite logits (default true). */
  smokeCheck?: boolean
}

/** A finished fit. */
export interface FitOutcome {
  edit: Edit
  summary: FitSummary
  /** What `writeEditFile` records about the fit: the rendering format and the dataset's hash and size. */
  extras: EditFileExtras
}

/**
 * Share of the progress bar each stage ends at; capture fills the span between render and fit, or its first half
 * when the method also needs neutral activations (greedy generations, the slower part).
 */
const stageEnds = { render: 0.05, capture: 0.95, captureBeforeNeutral: 0.35 } as const

function isLoadedModel(model: FitRequest['model']): model is LoadedModel {
  return 'session' in model
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TillerError('cancelled', 'The fit was cancelled.')
}

/**
 * Fit `request.method` on the training pairs of `request.data` with `request.model`.
 * Throws `invalid-argument` for an unknown method or option, `invalid-dataset` naming the file and lines for bad
 * or empty data, and `cancelled` when the signal aborts between batches.
 */
export async function fitFromDemonstrations(request: FitRequest): Promise<FitOutcome> {
  const method = typeof request.method === 'string' ? methodById(request.method) : request.method
  const options = parseOptions(method, request.options ?? {})
  // The same validator as the studio's preview: a file it shows clean is never refused here.
  const set =
    typeof request.data === 'string' ? await readFittableFile(request.data) : assertFittable(request.data)
  const pairs = contrastPairs(set, 'train')
  if (pairs.length === 0) {
    throw new TillerError(
      'invalid-dataset',
      `${set.source} has no training rows (split "train" or no split).`,
      {
        subject: set.source,
      },
    )
  }
  throwIfCancelled(request.signal)
  const owned = isLoadedModel(request.model)
    ? null
    : await loadModel(request.model.folder, {
        provider: request.model.provider,
        variant: request.model.variant,
      })
  const model = owned ?? (request.model as LoadedModel)
  try {
    const capture = method.capture(options, model.config.layers)
    const neutralRequest = method.neutral?.(options, model.config.layers)
    const captureEnd = neutralRequest === undefined ? stageEnds.capture : stageEnds.captureBeforeNeutral
    request.onProgress?.({ stage: 'render', fraction: 0, message: `Rendering ${pairs.length} pairs…` })
    const tokenizer = await loadRenderTokenizer(model.folder)
    const rendered = renderPairs(pairs, tokenizer, set.source, { ...capture.render, ...request.render })
    const dataset = hashDemonstrations(set)
    throwIfCancelled(request.signal)
    request.onProgress?.({
      stage: 'capture',
      fraction: stageEnds.render,
      message: `Capturing ${capture.site} at layer ${capture.layers.join(', ')}…`,
    })
    const fingerprint = request.fingerprint ?? (await fingerprintModel(model.folder, model.baseGraphFile))
    const activations = await captureActivations(model, rendered.examples, {
      site: capture.site,
      selector: capture.selector,
      layers: capture.layers,
      batchSize: request.batchSize,
      dataHash: dataset.hash,
      fingerprint,
      signal: request.signal,
      onProgress: (done, total) =>
        request.onProgress?.({
          stage: 'capture',
          fraction: stageEnds.render + ((captureEnd - stageEnds.render) * done) / total,
          message: `Captured ${done} of ${total} pairs`,
        }),
    })
    throwIfCancelled(request.signal)
    const context: FitContext = {
      signal: request.signal,
      onProgress: (fraction, message) =>
        request.onProgress?.({
          stage: 'fit',
          fraction: stageEnds.capture + (1 - stageEnds.capture) * fraction,
          message,
        }),
    }
    if (neutralRequest !== undefined) {
      request.onProgress?.({
        stage: 'neutral',
        fraction: captureEnd,
        message: `Generating neutral responses (up to ${neutralRequest.maxNewTokens} tokens each)…`,
      })
      context.neutral = await captureNeutral(model, rendered.examples, {
        site: neutralRequest.site,
        layers: neutralRequest.layers,
        maxNewTokens: neutralRequest.maxNewTokens,
        batchSize: request.batchSize,
        fingerprint,
        signal: request.signal,
        onProgress: (done, total) =>
          request.onProgress?.({
            stage: 'neutral',
            fraction: captureEnd + ((stageEnds.capture - captureEnd) * done) / total,
            message: `Neutral responses for ${done} of ${total} prompts`,
          }),
      })
      throwIfCancelled(request.signal)
    }
    request.onProgress?.({ stage: 'fit', fraction: stageEnds.capture, message: `Fitting ${method.id}…` })
    const { edit, fit } = await fitEdit(
      method,
      activations,
      options,
      { notes: `fitted on ${pairs.length} pairs` },
      context,
    )
    if (request.smokeCheck !== false) {
      const { default: strength, testedRange } = method.strength
      await smokeCheckEdit({
        folder: model.folder,
        edit,
        tokens: rendered.examples[0]?.positive.tokenIds ?? [],
        strengths: [...new Set([strength, ...testedRange])],
        provider: model.providerChoice,
        graphFile: model.baseGraphFile,
      })
    }
    const summary: FitSummary = {
      method: method.id,
      site: capture.site,
      selector: capture.selector,
      layers: capture.layers,
      interventions: edit.interventions.length,
      pairs: pairs.length,
      dataset: { source: set.source, ...dataset },
      notes: fit.notes,
    }
    return { edit, summary, extras: { chatTemplate: rendered.format, dataset } }
  } finally {
    await owned?.dispose()
  }
}
