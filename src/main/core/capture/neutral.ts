/**
 * SEA's neutral activations (METHODS.md §1.3): the model's own greedy response to each training prompt, read at
 * the last token fed to the model.
 *
 * Per batch of prompts: greedy generation (temperature 0, stop at EOS or `maxNewTokens`), then one hooked forward
 * pass over prompt + generated[:-1], reading the last position. The last generated token is never fed back, so
 * that position is exactly the input of the final decoding step; the prefill recomputation equals the cached
 * step up to float rounding (different kernel shapes sum in a different order). A response of 0 or 1 tokens
 * reads the last prompt token (the final step was the prefill). Cached like capture.ts, keyed by the graph,
 * weights, tokenizer, prompt tokens, site, layers and token budget.
 */
import { loadHookedModel } from './hooked-model.ts'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { HookSite, ModelFingerprint } from '../../../shared/edit.ts'
import type { RenderedExample } from '../data/render.ts'
import { fingerprintModel } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import type { NeutralActivations } from '../methods/method.ts'
import { hookOutputName } from '../models/locator/hook-map.ts'
import { locateHookSites } from '../models/locator/index.ts'
import { forwardBatch } from '../runtime/forward.ts'
import { generate } from '../runtime/generate.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { modelCacheFolder } from '../workspace/cache-folders.ts'
import { readNeutralActivations, writeNeutralActivations } from './neutral-file.ts'

/** What to capture. */
export interface NeutralCaptureOptions {
  site: HookSite
  /** 0-based decoder blocks, ascending. */
  layers: number[]
  /** Greedy tokens generated per prompt at most. */
  maxNewTokens: number
  /** Prompts per generation batch (default 8). */
  batchSize?: number
  fingerprint?: ModelFingerprint
  /** Where files are cached; default `activations/` in the model's cache folder. `false` disables it. */
  cacheDirectory?: string | false
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

/** The prompt of a rendered pair: its tokens up to where the assistant starts writing. */
export function promptTokens(example: RenderedExample): number[] {
  return example.positive.tokenIds.slice(0, example.positive.assistantStart)
}

/** The tokens whose last one is the input of the final decoding step that produced `generated`. */
export function fedTokens(prompt: number[], generated: number[]): number[] {
  return generated.length <= 1 ? prompt : [...prompt, ...generated.slice(0, -1)]
}

/**
 * Generate greedily from each example's prompt and capture `options.site` at `options.layers` at the last token
 * fed to the model. `model` is any loaded model of the folder; the hooked pass runs on its own session.
 * @returns per layer `[examples, width]`, one row per example in order
 */
export async function captureNeutral(
  model: LoadedModel,
  examples: readonly RenderedExample[],
  options: NeutralCaptureOptions,
): Promise<NeutralActivations> {
  if (examples.length === 0)
    throw new TillerError('invalid-argument', 'No prompts to respond to; the set is empty.')
  const hookMap = await locateHookSites(model.folder, { graphFile: model.baseGraphFile })
  const layers = [...new Set(options.layers)].sort((first, second) => first - second)
  const outside = layers.find(
    (layer) => !Number.isInteger(layer) || layer < 0 || layer >= hookMap.layers.length,
  )
  if (outside !== undefined || layers.length === 0) {
    throw new TillerError(
      'invalid-argument',
      `Neutral capture needs layers within 0–${hookMap.layers.length - 1}; got ${layers.join(', ') || 'none'}.`,
      { subject: 'layers' },
    )
  }
  const prompts = examples.map(promptTokens)
  const fingerprint = options.fingerprint ?? (await fingerprintModel(model.folder, model.baseGraphFile))
  const cacheKey = createHash('sha256')
    .update(
      JSON.stringify([
        'neutral',
        hookMap.graphHash,
        fingerprint.weightsHash,
        fingerprint.tokenizerHash,
        prompts,
        options.site,
        layers,
        options.maxNewTokens,
      ]),
    )
    .digest('hex')
    .slice(0, 24)
  const cacheDirectory =
    options.cacheDirectory === undefined
      ? join(modelCacheFolder(model.folder), 'activations')
      : options.cacheDirectory
  const cachePath =
    cacheDirectory === false ? undefined : join(cacheDirectory, `neutral-${cacheKey}.safetensors`)
  if (cachePath !== undefined && existsSync(cachePath)) return readNeutralActivations(cachePath)

  const hooked = await loadHookedModel(model, options.site, layers)
  const width = hookMap.widths[options.site]
  const values = layers.map(() => new Float32Array(examples.length * width))
  const batchSize = Math.max(1, options.batchSize ?? 8)
  try {
    for (let start = 0; start < examples.length; start += batchSize) {
      if (options.signal?.aborted) throw new TillerError('cancelled', 'Neutral capture was cancelled.')
      const batch = prompts.slice(start, start + batchSize)
      const responses = await generate(model, {
        rows: batch,
        options: { maxTokens: options.maxNewTokens, temperature: 0 },
        signal: options.signal,
      })
      if (options.signal?.aborted) throw new TillerError('cancelled', 'Neutral capture was cancelled.')
      const fed = responses.map((response, row) => fedTokens(batch[row] as number[], response.generated))
      const fetch = layers.map((layer) => hookOutputName(options.site, layer))
      const result = await forwardBatch(hooked, fed, { fetch })
      layers.forEach((layer, layerIndex) => {
        const output = result.outputs[hookOutputName(options.site, layer)]?.data as Float32Array
        // Rows are left padded, so every row's last token sits in the last column.
        fed.forEach((_, row) => {
          const offset = (row * result.sequence + result.sequence - 1) * width
          ;(values[layerIndex] as Float32Array).set(
            output.subarray(offset, offset + width),
            (start + row) * width,
          )
        })
      })
      options.onProgress?.(Math.min(examples.length, start + batchSize), examples.length)
    }
  } finally {
    await hooked.dispose()
  }
  const set: NeutralActivations = { site: options.site, layers, width, rows: examples.length, values }
  if (cachePath !== undefined) await writeNeutralActivations(cachePath, set)
  return set
}
