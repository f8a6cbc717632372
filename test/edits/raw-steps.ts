import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { logitsAsFloat32 } from '../../src/main/core/runtime/logits.ts'
import type { StepContext } from '../../src/main/core/runtime/step-context.ts'

/**
 * A prefill and one decode step of a left-padded two-row batch, fed to plain onnxruntime sessions exactly as a
 * plain runner feeds them (input_ids, attention_mask, position_ids when declared, past_key_values.*), plus the
 * StepContext the same steps have in Tiller's runtime (for a compiled graph's runtime inputs).
 */

/** Two prompts of different lengths: row 1 is left padded by two positions. */
export const prompts = [
  [1, 70, 71, 150, 33],
  [1, 90, 44],
]
/** The tokens each row feeds at the decode step. */
export const nextTokens = [65, 66]
const width = 5
const leftPadding = [0, 2]
const promptLengths = prompts.map((row) => row.length)

/** The cache geometry from a model folder's config.json. */
export interface CacheShape {
  kvHeads: number
  headDim: number
}

export function cacheShapeOf(folder: string): CacheShape {
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, number>
  const heads = config['num_attention_heads'] ?? 1
  return {
    kvHeads: config['num_key_value_heads'] ?? heads,
    headDim: config['head_dim'] ?? (config['hidden_size'] ?? 0) / heads,
  }
}

/** The StepContext of the prefill (`step` 0) or the decode step (`step` 1). */
export function stepContext(step: 0 | 1): StepContext {
  return {
    step,
    batch: prompts.length,
    sequence: step === 0 ? width : 1,
    pastLength: step === 0 ? 0 : width,
    leftPadding,
    promptLengths,
    isPrefill: step === 0,
  }
}

/** What one run returned: logits `[batch, seq, vocab]` as float32 (exact for float16 graphs) and the present tensors renamed as the next step's past. */
export interface StepOutput {
  logits: Float32Array
  past: Record<string, ort.Tensor>
}

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims)
}

/** The plain inputs of `step` (after `previous` for the decode step). */
function plainFeeds(
  session: ort.InferenceSession,
  cache: CacheShape,
  step: 0 | 1,
  previous: StepOutput | undefined,
): Record<string, ort.Tensor> {
  const batch = prompts.length
  const feeds: Record<string, ort.Tensor> = {}
  if (step === 0) {
    const ids = prompts.flatMap((row, index) => [...Array<number>(leftPadding[index] ?? 0).fill(0), ...row])
    const mask = prompts.flatMap((_, index) =>
      Array.from({ length: width }, (__, c) => (c < (leftPadding[index] ?? 0) ? 0 : 1)),
    )
    const positions = prompts.flatMap((_, index) =>
      Array.from({ length: width }, (__, c) => Math.max(0, c - (leftPadding[index] ?? 0))),
    )
    feeds['input_ids'] = int64(ids, [batch, width])
    feeds['attention_mask'] = int64(mask, [batch, width])
    feeds['position_ids'] = int64(positions, [batch, width])
    for (const entry of session.inputMetadata) {
      if (!entry.name.startsWith('past_key_values')) continue
      const dims = [batch, cache.kvHeads, 0, cache.headDim]
      const half = entry.isTensor && entry.type === 'float16'
      feeds[entry.name] = half
        ? new ort.Tensor('float16', new Uint16Array(0), dims)
        : new ort.Tensor('float32', new Float32Array(0), dims)
    }
  } else {
    const mask = prompts.flatMap((_, index) =>
      Array.from({ length: width + 1 }, (__, c) => (c < (leftPadding[index] ?? 0) ? 0 : 1)),
    )
    feeds['input_ids'] = int64(nextTokens, [batch, 1])
    feeds['attention_mask'] = int64(mask, [batch, width + 1])
    feeds['position_ids'] = int64(promptLengths, [batch, 1])
    Object.assign(feeds, previous?.past)
  }
  if (!session.inputNames.includes('position_ids')) delete feeds['position_ids']
  // Every position's logits (Tiller's exports take num_logits_to_keep; 0 keeps them all).
  if (session.inputNames.includes('num_logits_to_keep')) feeds['num_logits_to_keep'] = int64([0], [])
  return feeds
}

/** Run `step` on `session` with the plain inputs plus `extra` (a compiled graph's runtime inputs). */
export async function runStep(
  session: ort.InferenceSession,
  cache: CacheShape,
  step: 0 | 1,
  previous?: StepOutput,
  extra: Record<string, ort.Tensor> = {},
): Promise<StepOutput> {
  const outputs = await session.run({ ...plainFeeds(session, cache, step, previous), ...extra })
  const past: Record<string, ort.Tensor> = {}
  for (const [name, tensor] of Object.entries(outputs)) {
    if (name.startsWith('present')) past[name.replace(/^present/, 'past_key_values')] = tensor
  }
  const logits = outputs['logits']
  if (logits === undefined) throw new Error('the graph returned no logits')
  return { logits: logitsAsFloat32(logits), past }
}
