import { loadHookedModel } from './hooked-model.ts'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ActivationSet, PositionSelector } from '../../../shared/activations.ts'
import type { Edit, HookSite, ModelFingerprint } from '../../../shared/edit.ts'
import type { RenderedExample } from '../data/render.ts'
import { fingerprintModel } from '../edits/fingerprint.ts'
import { steeringInputs } from '../edits/steered-generation.ts'
import { isTillerError, TillerError } from '../errors.ts'
import { hookOutputName } from '../models/locator/hook-map.ts'
import { locateHookSites } from '../models/locator/index.ts'
import { forwardBatch } from '../runtime/forward.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { modelCacheFolder } from '../workspace/cache-folders.ts'
import { readActivationSet, writeActivationSet } from './activation-file.ts'
import { isPerToken, selectPositions, type SideSelection } from './selectors.ts'

/**
 * Activation capture: batched forward passes over a graph that exposes the requested hook outputs, reduced to
 * the selector's rows batch by batch, so memory holds `[batch, seq, width]` per layer for one batch only.
 * Results are cached as activation files keyed by (graph hash, data hash, rendered tokens and positions, site,
 * selector, layers).
 */

/** What to capture. */
export interface CaptureOptions {
  site: HookSite
  selector: PositionSelector
  /** 0-based decoder blocks, ascending. */
  layers: number[]
  /** Pairs per forward pass (each pair is two rows); default 8. */
  batchSize?: number
  /** sha256 of the demonstration set; default: a hash of the rendered token ids. */
  dataHash?: string
  /** The model's fingerprint; default: the folder's (edits/fingerprint.ts: tokenizer and weights hashes). */
  fingerprint?: ModelFingerprint
  /**
   * Where activation files are cached; default `activations/` in the model folder's cache folder (`.tiller/` in
   * the folder, or Tiller's cache folder for read-only folders: workspace/cache-folders.ts). `false` disables it.
   */
  cacheDirectory?: string | false
  /**
   * Capture with these edits compiled in at `strength` (every row, the whole rendered pair read as the prompt,
   * the assistant turn starting where the rendering says). Such captures are not cached.
   */
  steering?: { edits: readonly Edit[]; strength: number }
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function renderedHash(examples: readonly RenderedExample[]): string {
  return sha256(
    JSON.stringify(
      examples.map((example) => [example.id, example.positive.tokenIds, example.negative.tokenIds]),
    ),
  )
}

/**
 * Average the positions `padding + columns[i]` of batch row `row` of `output` `[batch, seq, width]` into `target`,
 * summing in float64 in `sums` (scratch, `width` long).
 */
function reduceRow(
  output: Float32Array,
  sequence: number,
  row: number,
  padding: number,
  columns: readonly number[],
  sums: Float64Array,
  target: Float32Array,
): void {
  const width = sums.length
  sums.fill(0)
  for (const column of columns) {
    const offset = (row * sequence + padding + column) * width
    for (let index = 0; index < width; index++) sums[index]! += output[offset + index]!
  }
  for (let index = 0; index < width; index++) target[index] = sums[index]! / columns.length
}

function concatenate(chunks: Float32Array[], length: number): Float32Array {
  const result = new Float32Array(length)
  let offset = 0
  for (const chunk of chunks) {
    result.set(chunk, offset)
    offset += chunk.length
  }
  return result
}

/** The query heads of an `attn_heads` capture (undefined for other sites); the width must split into them. */
function headsOf(model: LoadedModel, site: HookSite, width: number): number | undefined {
  if (site !== 'attn_heads') return undefined
  const heads = model.config.heads
  if (width % heads !== 0) {
    throw new TillerError(
      'shape-mismatch',
      `${model.folder}: attn_heads is ${width} wide, which does not split into the config's ${heads} heads.`,
      { subject: 'num_attention_heads' },
    )
  }
  return heads
}

/**
 * Capture `options.site` at `options.layers` for every rendered pair, reading the positions `options.selector`
 * picks. `model` is any loaded model of the folder; capture runs on its own hooked session (same provider).
 * @returns an ActivationSet: per layer `[rows, width]` for each side, rows paired across sides
 */
export async function captureActivations(
  model: LoadedModel,
  examples: readonly RenderedExample[],
  options: CaptureOptions,
): Promise<ActivationSet> {
  if (examples.length === 0)
    throw new TillerError('invalid-argument', 'No examples to capture; the set is empty.')
  const hookMap = await locateHookSites(model.folder, { graphFile: model.baseGraphFile })
  const layers = [...new Set(options.layers)].sort((first, second) => first - second)
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= hookMap.layers.length) {
      throw new TillerError(
        'invalid-argument',
        `Layer ${layer} does not exist; the model has layers 0–${hookMap.layers.length - 1}.`,
        {
          subject: 'layers',
        },
      )
    }
  }
  if (layers.length === 0) throw new TillerError('invalid-argument', 'Choose at least one layer to capture.')
  const heads = headsOf(model, options.site, hookMap.widths[options.site])
  const selections = examples.map((example) => selectPositions(options.selector, example))
  const dataHash = options.dataHash ?? renderedHash(examples)
  const fingerprint = options.fingerprint ?? (await fingerprintModel(model.folder, model.baseGraphFile))
  // The rendered tokens and selected positions are part of the key: one data set rendered two ways (contrast
  // in the prompt or in the completion) gives different activations.
  const renderKey = sha256(JSON.stringify([renderedHash(examples), selections]))
  // The weights and tokenizer hashes too: a folder whose weights were replaced keeps its graph hash.
  const cacheKey = sha256(
    JSON.stringify([
      hookMap.graphHash,
      fingerprint.weightsHash,
      fingerprint.tokenizerHash,
      dataHash,
      renderKey,
      options.site,
      options.selector,
      layers,
      // attn_heads sets record their head count; files written before they did must not be read back.
      ...(heads === undefined ? [] : [heads]),
    ]),
  ).slice(0, 24)
  const cacheDirectory =
    options.cacheDirectory === undefined
      ? join(modelCacheFolder(model.folder), 'activations')
      : options.cacheDirectory
  const cachePath =
    cacheDirectory === false || options.steering !== undefined
      ? undefined
      : join(cacheDirectory, `${cacheKey}.safetensors`)
  if (cachePath !== undefined && existsSync(cachePath)) {
    const cached = await readActivationSet(cachePath).catch((error: unknown) => {
      if (isTillerError(error, 'file-corrupt')) return undefined
      throw error
    })
    if (cached !== undefined) return cached
    // A damaged cache file (an interrupted disk, a foreign write) is a miss: capture again and replace it.
    await rm(cachePath, { force: true })
  }

  const steering = options.steering
  const hooked = await loadHookedModel(model, options.site, layers, steering?.edits)
  const width = hookMap.widths[options.site]
  const positive: Float32Array[][] = layers.map(() => [])
  const negative: Float32Array[][] = layers.map(() => [])
  let rows = 0
  const batchSize = Math.max(1, options.batchSize ?? 8)
  const sums = new Float64Array(width)
  try {
    for (let start = 0; start < examples.length; start += batchSize) {
      if (options.signal?.aborted) throw new TillerError('cancelled', 'Capture was cancelled.')
      const batch = examples.slice(start, start + batchSize)
      const tokenRows = batch.flatMap((example) => [example.positive.tokenIds, example.negative.tokenIds])
      const fetch = layers.map((layer) => hookOutputName(options.site, layer))
      const extraInputs =
        steering === undefined
          ? undefined
          : steeringInputs(
              hooked.compiled,
              tokenRows.map(() => steering.strength),
              {
                assistantStarts: batch.flatMap((example) => [
                  example.positive.assistantStart,
                  example.negative.assistantStart,
                ]),
              },
            )
      const result = await forwardBatch(hooked, tokenRows, {
        fetch,
        ...(extraInputs === undefined ? {} : { extraInputs }),
      })
      layers.forEach((layer, layerIndex) => {
        const output = result.outputs[hookOutputName(options.site, layer)]?.data as Float32Array
        batch.forEach((_, pairIndex) => {
          const selection = selections[start + pairIndex] as {
            positive: SideSelection
            negative: SideSelection
          }
          const sides: Array<[SideSelection, number, Float32Array[]]> = [
            [selection.positive, 2 * pairIndex, positive[layerIndex] as Float32Array[]],
            [selection.negative, 2 * pairIndex + 1, negative[layerIndex] as Float32Array[]],
          ]
          for (const [side, row, target] of sides) {
            const padding = result.leftPadding[row] ?? 0
            const block = new Float32Array(side.rows.length * width)
            side.rows.forEach((columns, rowIndex) => {
              const target = block.subarray(rowIndex * width, (rowIndex + 1) * width)
              reduceRow(output, result.sequence, row, padding, columns, sums, target)
            })
            target.push(block)
          }
        })
      })
      rows += batch.reduce(
        (total, _, pairIndex) => total + (selections[start + pairIndex]?.positive.rows.length ?? 0),
        0,
      )
      options.onProgress?.(Math.min(examples.length, start + batchSize), examples.length)
    }
  } finally {
    await hooked.dispose()
  }
  const set: ActivationSet = {
    site: options.site,
    selector: options.selector,
    layers,
    width,
    ...(heads === undefined ? {} : { heads }),
    positive: positive.map((chunks) => concatenate(chunks, rows * width)),
    negative: negative.map((chunks) => concatenate(chunks, rows * width)),
    rows,
    ...(isPerToken(options.selector)
      ? { rowsPerPair: selections.map((selection) => selection.positive.rows.length) }
      : {}),
    exampleIds: examples.map((example) => example.id),
    dataHash,
    model: fingerprint,
  }
  if (cachePath !== undefined) await writeActivationSet(cachePath, set)
  return set
}
