import * as ort from 'onnxruntime-node'
import { TillerError } from '../errors.ts'
import { forwardBatch } from '../runtime/forward.ts'
import type { LoadedModel } from '../runtime/model.ts'
import type { ExtraInputs, StepContext } from '../runtime/step-context.ts'
import type { CompiledGraph } from './compiler/compile.ts'
import type { PatchInput } from './compiler/runtime-inputs.ts'
import { policyMask, type PolicyRowInfo } from './positions.ts'

/**
 * The clean values a `patch` op (SADI's patch mode, METHODS.md §6.3) replaces its site with. "Compute, then patch":
 * a strength-0 pass over the rows records each patched site's pre-edit value (`hook.{site}.{layer}.input`) at the
 * row's last prompt token p; the steered pass then feeds them as `tiller_patch.{site}.{layer}` `[batch, width]`.
 * Strength 0 of a steered graph is the base model bit for bit, and by causality the values at p depend only on
 * the prefix, so they are the base model's values over the question alone.
 */

/** Recorded clean values per patch input name, `[rows, width]` row-major (zeros for rows without a patch). */
export type PatchValues = ReadonlyMap<string, Float32Array>

/** What a path that cannot record clean values says when a patch would apply. */
export const patchModeUnsupported =
  'SADI mode=patch needs a strength-0 pass over each prompt before the steered one'

/** The index of the mask input that carries `lastPromptToken`, the only policy a patch op accepts. */
function patchMaskInput(compiled: CompiledGraph): string {
  const index = compiled.policies.findIndex((policy) => policy.kind === 'lastPromptToken')
  const name = compiled.maskInputs[index]
  if (name === undefined) throw new TillerError('internal', 'A patched graph has no lastPromptToken mask.')
  return name
}

/**
 * Run `rows` once through the steered graph with `zeroStrengthInputs` (its inputs at strength 0 for every row)
 * and read, for each row, every patched site at the position its `lastPromptToken` mask marks. Returns undefined
 * for a graph without patch ops (nothing to record).
 */
export async function recordPatchValues(
  model: LoadedModel,
  compiled: CompiledGraph,
  rows: number[][],
  zeroStrengthInputs: ExtraInputs,
  promptLengths?: readonly number[],
): Promise<PatchValues | undefined> {
  if (compiled.patchInputs.length === 0) return undefined
  const maskName = patchMaskInput(compiled)
  let mask: Float32Array | undefined
  const inputs: ExtraInputs = (step) => {
    const feeds = zeroStrengthInputs(step)
    mask = feeds[maskName]?.data as Float32Array | undefined
    return feeds
  }
  const fetch = compiled.patchInputs.map((input) => input.hook)
  const { outputs, sequence } = await forwardBatch(model, rows, {
    fetch,
    extraInputs: inputs,
    ...(promptLengths === undefined ? {} : { promptLengths }),
  })
  if (mask === undefined) throw new TillerError('internal', `The strength-0 pass fed no ${maskName}.`)
  const values = new Map<string, Float32Array>()
  for (const input of compiled.patchInputs) {
    // hook value [rows, sequence, width] float32
    const site = outputs[input.hook]?.data as Float32Array | undefined
    if (site === undefined) throw new TillerError('internal', `The graph returned no ${input.hook}.`)
    const recorded = new Float32Array(rows.length * input.width)
    for (let row = 0; row < rows.length; row++) {
      const column = mask.subarray(row * sequence, (row + 1) * sequence).indexOf(1)
      if (column < 0) continue
      const start = (row * sequence + column) * input.width
      recorded.set(site.subarray(start, start + input.width), row * input.width)
    }
    values.set(input.name, recorded)
  }
  return values
}

/**
 * The `tiller_patch.*` feeds of one step. A row needs its recorded values only where a patch happens: a non-zero
 * strength and its last prompt token fed in this step. Steps where no row needs them (decode steps, strength-0
 * rows, the recording pass itself) get zeros, which the graph never reads.
 */
export function patchFeeds(
  inputs: readonly PatchInput[],
  step: StepContext,
  strengths: Float32Array,
  rows: PolicyRowInfo,
  values: PatchValues | undefined,
): Record<string, ort.Tensor> {
  if (inputs.length === 0) return {}
  const mask = policyMask({ kind: 'lastPromptToken' }, step, rows)
  let needed = false
  for (let row = 0; row < step.batch && !needed; row++) {
    const fedHere = mask.subarray(row * step.sequence, (row + 1) * step.sequence).includes(1)
    needed = fedHere && strengths[row] !== 0
  }
  const feeds: Record<string, ort.Tensor> = {}
  for (const input of inputs) {
    const recorded = values?.get(input.name)
    if (needed && (recorded === undefined || recorded.length !== step.batch * input.width)) {
      throw new TillerError(
        'invalid-argument',
        `${patchModeUnsupported}, and this path has no recorded values for ${input.name} (batch of ` +
          `${step.batch}); run it through compare, generate or the evaluation, or refit with mode=live.`,
        { subject: input.name },
      )
    }
    const data = needed && recorded !== undefined ? recorded : new Float32Array(step.batch * input.width)
    feeds[input.name] = new ort.Tensor('float32', data, [step.batch, input.width])
  }
  return feeds
}
