import * as ort from 'onnxruntime-node'
import type { Edit } from '../../../shared/edit.ts'
import type { ExecutionProviderChoice } from '../../../shared/engine-status.ts'
import { TillerError } from '../errors.ts'
import {
  generate,
  type GenerationOptions,
  type GenerationResult,
  type TokenEvent,
} from '../runtime/generate.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'
import type { ExtraInputs, StepContext } from '../runtime/step-context.ts'
import { compileEdits, type CompiledGraph } from './compiler/compile.ts'
import { importControlVector } from './control-vector.ts'
import { readEditFile } from './edit-file.ts'
import { fingerprintModel } from './fingerprint.ts'
import { runtimeInputNames } from './compiler/runtime-inputs.ts'
import { patchFeeds, recordPatchValues, type PatchValues } from './patch-values.ts'
import { policyMask, tokenIndices, type PolicyRowInfo } from './positions.ts'

/**
 * Steered generation: one session on the compiled graph serves every row, each with its own strength
 * (row strength 0 is the base model, exactly). Several strengths of one prompt run as rows of one batch.
 */

/** A model running a compiled steered graph. */
export interface SteeredModel {
  model: LoadedModel
  compiled: CompiledGraph
}

/**
 * Compile `edits` for `folder`'s graph (`graphFile`, e.g. a variant's, default the folder's) and load the steered
 * graph. With `strengthPerEdit` every edit gets its own strength
 * factor per row (`editStrengths` of `generateSteered`), so stacked edits are toggled and weighed without a
 * recompile.
 */
export async function loadSteeredModel(
  folder: string,
  edits: readonly Edit[],
  options: { provider?: ExecutionProviderChoice; strengthPerEdit?: boolean; graphFile?: string } = {},
): Promise<SteeredModel> {
  const compiled = await compileEdits(folder, edits, {
    strengthPerEdit: options.strengthPerEdit,
    graphFile: options.graphFile,
  })
  const model = await loadModel(folder, {
    provider: options.provider,
    graphFile: compiled.graphFile,
    baseGraphFile: options.graphFile,
  })
  return { model, compiled }
}

/**
 * Read edit files for `folder` as it runs `graphFile` (a variant's graph; default the folder's default graph),
 * refusing any fitted on another model (the message names the differing field). A `.gguf` path is a llama.cpp
 * control vector and is imported, as the engine's `edit:load` does.
 */
export async function readEditsFor(
  folder: string,
  paths: readonly string[],
  graphFile?: string,
): Promise<Edit[]> {
  if (paths.length === 0) throw new TillerError('invalid-argument', 'No edit files given; pass --edit FILE.')
  const fingerprint = await fingerprintModel(folder, graphFile)
  const edits: Edit[] = []
  for (const path of paths) {
    edits.push(
      path.toLowerCase().endsWith('.gguf')
        ? await importControlVector(path, { model: fingerprint })
        : (await readEditFile(path, fingerprint)).edit,
    )
  }
  return edits
}

/** Per-row, per-edit strength factors as `tiller_edit_strength [rows, edits]`; absent means 1 for every edit. */
function editStrengthValues(
  compiled: CompiledGraph,
  rows: number,
  editStrengths: readonly (readonly number[])[] | undefined,
): Float32Array {
  const values = new Float32Array(rows * compiled.editCount).fill(1)
  if (editStrengths === undefined) return values
  if (editStrengths.length !== rows) {
    throw new TillerError(
      'invalid-argument',
      `${editStrengths.length} rows of edit strengths for ${rows} rows; give one list per row.`,
      { subject: 'editStrengths' },
    )
  }
  editStrengths.forEach((row, index) => {
    if (row.length !== compiled.editCount || !row.every((value) => Number.isFinite(Math.fround(value)))) {
      throw new TillerError(
        'invalid-argument',
        `Row ${index} has edit strengths ${row.join(', ')}; give ${compiled.editCount} finite float32 numbers, one per edit.`,
        { subject: 'editStrengths' },
      )
    }
    values.set(row, index * compiled.editCount)
  })
  return values
}

/**
 * The per-step runtime inputs of a compiled graph: `tiller_strength [batch]` from `strengths` (one per row),
 * `tiller_edit_strength [batch, edits]` from `editStrengths` when the graph has one strength per edit (default
 * all ones), one `[batch, seq]` mask per distinct position policy, `tiller_token_index` when the graph reads it,
 * and the recorded clean values `patch` of a patch-mode graph (`preparedSteeringInputs` records them).
 */
export function steeringInputs(
  compiled: CompiledGraph,
  strengths: readonly number[],
  rows: PolicyRowInfo = {},
  editStrengths?: readonly (readonly number[])[],
  patch?: PatchValues,
): ExtraInputs {
  // The graph takes float32 strengths: beyond its range a finite number becomes infinite.
  if (!strengths.every((strength) => Number.isFinite(Math.fround(strength)))) {
    throw new TillerError(
      'invalid-argument',
      `Strengths must be finite float32 numbers (magnitude below 3.4e38); got ${strengths.join(', ')}.`,
      {
        subject: 'strengths',
      },
    )
  }
  const strength = Float32Array.from(strengths)
  const perEdit = compiled.usesEditStrength
    ? editStrengthValues(compiled, strengths.length, editStrengths)
    : undefined
  const inputs: ExtraInputs = (step: StepContext) => {
    if (step.batch !== strengths.length) {
      throw new TillerError(
        'invalid-argument',
        `${strengths.length} strengths for a batch of ${step.batch} rows.`,
        {
          subject: 'strengths',
        },
      )
    }
    const feeds: Record<string, ort.Tensor> = {}
    if (compiled.usesStrength)
      feeds[runtimeInputNames.strength] = new ort.Tensor('float32', strength, [step.batch])
    if (perEdit !== undefined) {
      feeds[runtimeInputNames.editStrength] = new ort.Tensor('float32', perEdit, [
        step.batch,
        compiled.editCount,
      ])
    }
    compiled.policies.forEach((policy, index) => {
      const name = compiled.maskInputs[index] ?? ''
      feeds[name] = new ort.Tensor('float32', policyMask(policy, step, rows), [step.batch, step.sequence])
    })
    if (compiled.usesTokenIndex) {
      feeds[runtimeInputNames.tokenIndex] = new ort.Tensor('int64', tokenIndices(step), [
        step.batch,
        step.sequence,
      ])
    }
    Object.assign(feeds, patchFeeds(compiled.patchInputs, step, strength, rows, patch))
    return feeds
  }
  inputs.describeRow = (row) =>
    compiled.usesStrength ? `strength ${strengths[row]} of the edits` : undefined
  return inputs
}

/**
 * `steeringInputs` for `rows` (token ids, as they will be fed), first recording the clean values a patch-mode
 * graph needs with a strength-0 pass over the same rows; for every other graph no pass runs.
 */
export async function preparedSteeringInputs(
  steered: SteeredModel,
  rows: number[][],
  strengths: readonly number[],
  info: PolicyRowInfo = {},
  editStrengths?: readonly (readonly number[])[],
  promptLengths?: readonly number[],
): Promise<ExtraInputs> {
  const zeros = strengths.map(() => 0)
  const patch = await recordPatchValues(
    steered.model,
    steered.compiled,
    rows,
    steeringInputs(steered.compiled, zeros, info, editStrengths),
    promptLengths,
  )
  return steeringInputs(steered.compiled, strengths, info, editStrengths, patch)
}

/** What to generate with a steered model: prompt rows, one strength per row, and the usual options. */
export interface SteeredGenerationRequest {
  rows: number[][]
  strengths: number[]
  options: GenerationOptions
  /** Per-row assistant-turn start (token index) for `fromAssistantStart` policies. */
  assistantStarts?: number[]
  /** Per row, one factor per edit (graphs compiled with `strengthPerEdit`); default 1 for every edit. */
  editStrengths?: number[][]
  onToken?: (event: TokenEvent) => void
  signal?: AbortSignal
}

/** Generate every row with its own strength, in one batch. */
export async function generateSteered(
  steered: SteeredModel,
  request: SteeredGenerationRequest,
): Promise<GenerationResult[]> {
  if (request.rows.length !== request.strengths.length) {
    throw new TillerError(
      'invalid-argument',
      `${request.rows.length} prompt rows but ${request.strengths.length} strengths; give one strength per row.`,
      { subject: 'strengths' },
    )
  }
  return generate(steered.model, {
    rows: request.rows,
    options: request.options,
    onToken: request.onToken,
    signal: request.signal,
    extraInputs: await preparedSteeringInputs(
      steered,
      request.rows,
      request.strengths,
      { assistantStarts: request.assistantStarts },
      request.editStrengths,
    ),
  })
}

/** One row of a strength comparison. */
export interface ComparisonRow {
  strength: number
  text: string
  /** Generated token ids. */
  tokens: number[]
}

/**
 * Generate the same prompt at several strengths as rows of one batch with the same seed, so rows differ only
 * by the edit's strength.
 */
export async function compareStrengths(
  steered: SteeredModel,
  prompt: number[],
  strengths: readonly number[],
  options: GenerationOptions,
  assistantStart?: number,
): Promise<ComparisonRow[]> {
  if (strengths.length === 0)
    throw new TillerError('invalid-argument', 'Give at least one strength to compare.')
  const results = await generateSteered(steered, {
    rows: strengths.map(() => prompt),
    strengths: [...strengths],
    options,
    assistantStarts: assistantStart === undefined ? undefined : strengths.map(() => assistantStart),
  })
  return results.map((result, row) => ({
    strength: strengths[row] ?? 0,
    text: result.text,
    tokens: result.generated,
  }))
}
