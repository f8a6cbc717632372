/**
 * Layer diagnostics of a demonstration set (`diagnostics:layers`, `tiller diagnose`): render the training pairs
 * as a method would, capture its site at every decoder block, and report per layer the held-out probe accuracy,
 * the separation d′ and the mean activation norm, with a recommended layer to fit at. Given a fitted edit, also the
 * mean norms with that edit compiled in at a strength, and the cosines between its directions and other edits'.
 */
import type { Edit, ModelFingerprint } from '../../../shared/edit.ts'
import { recommendLayer, type LayerDiagnosticsReport } from '../../../shared/layer-diagnostics.ts'
import { captureActivations } from '../capture/capture.ts'
import { hashDemonstrations } from '../data/hash.ts'
import { readDemonstrationFile } from '../data/jsonl.ts'
import { contrastPairs } from '../data/pairs.ts'
import { renderPairs } from '../data/render.ts'
import { loadRenderTokenizer } from '../data/tokenizer.ts'
import { TillerError } from '../errors.ts'
import { meanNormByLayer, probeAccuracyByLayer, separationByLayer } from '../eval/layer-diagnostics.ts'
import { methodById } from '../methods/index.ts'
import { parseOptions } from '../methods/method.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { editedDiagnostics, type ComparedEdit } from './edit-directions.ts'

/** What to diagnose. */
export interface LayerDiagnosisRequest {
  model: LoadedModel
  /** A demonstration file (JSONL) with training pairs. */
  data: string
  /** The method whose site, positions and rendering are read (default mean-diff). */
  method?: string
  /** Its options (layers are ignored: every block is captured). */
  options?: Record<string, unknown>
  /** Use at most this many training pairs, the first in file order (default 64). */
  maxPairs?: number
  fingerprint?: ModelFingerprint
  /** A fitted edit: capture again with it compiled in at `strength` and compare its directions with `compareWith`. */
  edit?: { edit: Edit; strength: number }
  /** Other edits of the same model whose directions are compared with the edit's. */
  compareWith?: readonly ComparedEdit[]
  signal?: AbortSignal
  onProgress?: (fraction: number, message: string) => void
}

/** Pairs a diagnosis reads by default: enough for a stable probe, few enough to stay interactive. */
export const defaultDiagnosisPairs = 64

/** Diagnose every decoder block of `request.model` on the training pairs of `request.data`. */
export async function diagnoseLayers(request: LayerDiagnosisRequest): Promise<LayerDiagnosticsReport> {
  const method = methodById(request.method ?? 'mean-diff')
  const given = { ...request.options }
  delete given['layers']
  const options = parseOptions(method, given)
  const set = await readDemonstrationFile(request.data)
  const limit = request.maxPairs ?? defaultDiagnosisPairs
  const pairs = contrastPairs(set, 'train').slice(0, limit)
  if (pairs.length < 4) {
    throw new TillerError(
      'invalid-dataset',
      `${set.source} has ${pairs.length} training pair(s); layer diagnostics need at least 4 (half fit the probe, half score it).`,
      { subject: set.source },
    )
  }
  const { model } = request
  const layerCount = model.config.layers
  const capture = method.capture(options, layerCount)
  const allLayers = Array.from({ length: layerCount }, (_, layer) => layer)
  request.onProgress?.(0, `Rendering ${pairs.length} pairs…`)
  const tokenizer = await loadRenderTokenizer(model.folder)
  const rendered = renderPairs(pairs, tokenizer, set.source, capture.render)
  const edit = request.edit
  // With an edit, the base capture takes the first 45 % of the progress and the edited one the next 45 %.
  const share = edit === undefined ? 0.9 : 0.45
  const captureOptions = {
    site: capture.site,
    selector: capture.selector,
    layers: allLayers,
    dataHash: `${hashDemonstrations(set).hash}:first-${pairs.length}`,
    fingerprint: request.fingerprint,
    signal: request.signal,
  }
  const activations = await captureActivations(model, rendered.examples, {
    ...captureOptions,
    onProgress: (done, total) =>
      request.onProgress?.((share * done) / total, `Captured ${done} of ${total} pairs at every layer`),
  })
  const edited =
    edit === undefined
      ? undefined
      : await captureActivations(model, rendered.examples, {
          ...captureOptions,
          steering: { edits: [edit.edit], strength: edit.strength },
          onProgress: (done, total) =>
            request.onProgress?.(
              share + (share * done) / total,
              `Captured ${done} of ${total} pairs with the edit at strength ${edit.strength}`,
            ),
        })
  if (request.signal?.aborted) throw new TillerError('cancelled', 'The diagnostics were cancelled.')
  request.onProgress?.(0.95, 'Scoring the layers…')
  const accuracy = probeAccuracyByLayer(activations)
  const separation = separationByLayer(activations)
  const norms = meanNormByLayer(activations)
  const editedNorms = edited === undefined ? undefined : meanNormByLayer(edited)
  const rows = activations.layers.map((layer, index) => ({
    layer,
    probeAccuracy: accuracy[index]?.value ?? Number.NaN,
    separation: separation[index]?.value ?? Number.NaN,
    meanNorm: norms[index]?.value ?? Number.NaN,
    ...(editedNorms === undefined ? {} : { editedMeanNorm: editedNorms[index]?.value ?? Number.NaN }),
  }))
  const recommended = recommendLayer(rows)
  // probeAccuracyByLayer fits on the first half of the rows and scores the rest.
  const trainRows = Math.min(activations.rows - 1, Math.max(1, Math.floor(activations.rows * 0.5)))
  return {
    dataset: set.source,
    site: capture.site,
    selector: capture.selector,
    pairs: pairs.length,
    heldOutRows: activations.rows - trainRows,
    rows,
    recommendedLayer: recommended.layer,
    reason: recommended.reason,
    ...(edit === undefined
      ? {}
      : { edited: editedDiagnostics(edit.edit, edit.strength, request.compareWith ?? []) }),
  }
}
