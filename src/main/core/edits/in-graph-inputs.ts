import type { PositionPolicy } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { GraphEditor } from '../models/locator/graph-editor.ts'
import { graphInputs } from '../models/graph-contract.ts'
import { opsetVersion, TensorElementType, type ModelProto } from '../onnx/proto.ts'
import { runtimeInputNames } from './compiler/runtime-inputs.ts'

/**
 * Turns a compiled steered graph's runtime inputs (`tiller_strength`, `tiller_edit_mask*`, `tiller_token_index`)
 * into values computed inside the graph, so it takes exactly the base model's inputs and any plain runner
 * (Transformers.js, onnxruntime) can drive it. Op-agnostic: only the producers of those tensors change, never the
 * lowered edit nodes that read them.
 *
 * What a plain runner feeds: `input_ids [batch, seq]` and `attention_mask [batch, past + seq]` (left padding as 0).
 * The prompt is one call with past length 0, each decode step one call with past length > 0. From these:
 *   past         = width(attention_mask) − seq
 *   real[b, j]   = attention_mask[b, past + j] ≠ 0                 (padding is never edited)
 *   token[b, j]  = cumsum(attention_mask)[b, past + j] − 1          (real token index, left padding skipped)
 *   prefill      = past == 0;  last[j] = j == seq − 1
 * and each policy's mask, equal to what the runtime computes per step (positions.ts):
 *   all                    real
 *   prompt                 real ∧ prefill
 *   generated              real ∧ ¬prefill
 *   promptPrefix(n)        real ∧ prefill ∧ token < n
 *   lastPromptToken        real ∧ prefill ∧ last
 *   lastPromptAndGenerated real ∧ (last ∨ ¬prefill)
 *   fromAssistantStart     refused: the assistant turn's start is not in what a plain runner feeds.
 * `tiller_token_index` (addAt) is `token` on real positions and 0 on padding; `tiller_strength` is a constant
 * broadcast to the batch.
 */

/** What the graph must replace: the compiled graph's policies, their mask inputs and whether it reads token indices. */
export interface RuntimeInputUse {
  policies: readonly PositionPolicy[]
  maskInputs: readonly string[]
  usesTokenIndex: boolean
  usesStrength: boolean
}

/** How each policy's in-graph mask is defined, in words (recorded in the exported folder). */
export function inGraphMaskSemantics(policy: PositionPolicy): string {
  const real = 'fed positions whose attention_mask is 1'
  switch (policy.kind) {
    case 'all':
      return `every call: all ${real}`
    case 'prompt':
      return `the first call (past length 0): all ${real}; later calls: none`
    case 'generated':
      return `the first call (past length 0): none; later calls: all ${real}`
    case 'promptPrefix':
      return `the first call (past length 0): ${real} whose token index (cumsum of attention_mask − 1) is below ${policy.count}; later calls: none`
    case 'lastPromptToken':
      return 'the first call (past length 0): its last fed position; later calls: none'
    case 'lastPromptAndGenerated':
      return `the first call (past length 0): its last fed position; later calls: all ${real}`
    case 'fromAssistantStart':
      return 'not exportable'
  }
}

/** Refuse policies a plain runner's inputs cannot express, naming the policy and what to do. */
export function checkExportablePolicies(policies: readonly PositionPolicy[], subject: string): void {
  if (policies.some((policy) => policy.kind === 'fromAssistantStart')) {
    throw new TillerError(
      'unrepresentable-edit',
      `${subject} applies from the assistant turn's start (fromAssistantStart), which a plain runner's input_ids ` +
        'and attention_mask do not reveal; steer it inside Tiller (compare/generate) or fit an edit with another ' +
        'position policy.',
      { subject },
    )
  }
}

/** The minimum ai.onnx opset the mask subgraph needs (CumSum, Range). */
const minimumOpset = 11

/** Builds the shared pieces (past length, real positions, token indices) once, then one mask per policy. */
class MaskBuilder {
  private readonly prefillFlag: string
  private readonly lastFlag: string
  readonly real: string
  readonly tokenIndex: string
  readonly batch: string

  constructor(private readonly editor: GraphEditor) {
    const oneList = this.ints('one', [1], [1n])
    const idsShape = editor.node('Shape', [graphInputs.inputIds], { name: 'export/ids_shape' })
    const maskShape = editor.node('Shape', [graphInputs.attentionMask], { name: 'export/mask_shape' })
    const zeroList = this.ints('zero', [1], [0n])
    const twoList = this.ints('two', [1], [2n])
    this.batch = editor.node('Slice', [idsShape, zeroList, oneList], { name: 'export/batch' })
    const sequence = editor.node('Slice', [idsShape, oneList, twoList], { name: 'export/sequence' })
    const total = editor.node('Slice', [maskShape, oneList, twoList], { name: 'export/total' })
    const past = editor.node('Sub', [total, sequence], { name: 'export/past' })
    // [batch, seq] int64: the attention-mask columns of the positions fed this call
    const fed = editor.node('Slice', [graphInputs.attentionMask, past, total, oneList], {
      name: 'export/fed',
    })
    const zeroScalar = this.ints('zero_scalar', [], [0n])
    const oneScalar = this.ints('one_scalar', [], [1n])
    this.real = editor.node('Not', [editor.node('Equal', [fed, zeroScalar], { name: 'export/padding' })], {
      name: 'export/real',
    })
    const counts = editor.node('CumSum', [graphInputs.attentionMask, oneScalar], { name: 'export/counts' })
    const fedCounts = editor.node('Slice', [counts, past, total, oneList], { name: 'export/fed_counts' })
    // [batch, seq] int64: real token index (−1 on left padding)
    this.tokenIndex = editor.node('Sub', [fedCounts, oneScalar], { name: 'export/token_index' })
    this.prefillFlag = editor.node('Equal', [past, zeroList], { name: 'export/prefill' })
    const sequenceScalar = editor.node('Gather', [idsShape, oneScalar], {
      name: 'export/sequence_scalar',
      attributes: { axis: 0 },
    })
    // [seq] int64: 0 … seq − 1
    const columns = editor.node('Range', [zeroScalar, sequenceScalar, oneScalar], { name: 'export/columns' })
    const lastColumn = editor.node('Sub', [sequenceScalar, oneScalar], { name: 'export/last_column' })
    this.lastFlag = editor.node('Equal', [columns, lastColumn], { name: 'export/last' })
  }

  private ints(base: string, dims: number[], values: bigint[]): string {
    return this.editor.constant(`export/${base}`, 'int64', dims, BigInt64Array.from(values))
  }

  private and(first: string, second: string): string {
    return this.editor.node('And', [first, second], { name: 'export/And' })
  }

  private not(flag: string): string {
    return this.editor.node('Not', [flag], { name: 'export/Not' })
  }

  /** Where `policy` applies, bool broadcastable to `[batch, seq]` (before restricting to real positions). */
  private condition(policy: PositionPolicy): string | undefined {
    switch (policy.kind) {
      case 'all':
        return undefined
      case 'prompt':
        return this.prefillFlag
      case 'generated':
        return this.not(this.prefillFlag)
      case 'promptPrefix': {
        const count = this.ints('prefix_count', [], [BigInt(policy.count)])
        const inPrefix = this.editor.node('Less', [this.tokenIndex, count], { name: 'export/in_prefix' })
        return this.and(this.prefillFlag, inPrefix)
      }
      case 'lastPromptToken':
        return this.and(this.prefillFlag, this.lastFlag)
      case 'lastPromptAndGenerated':
        return this.editor.node('Or', [this.lastFlag, this.not(this.prefillFlag)], { name: 'export/Or' })
      case 'fromAssistantStart':
        checkExportablePolicies([policy], 'The edit')
        return undefined
    }
  }

  /** Write `policy`'s float32 `[batch, seq]` mask into the tensor named `output`. */
  mask(policy: PositionPolicy, output: string): void {
    const condition = this.condition(policy)
    const flags = condition === undefined ? this.real : this.and(this.real, condition)
    this.editor.node('Cast', [flags], {
      name: 'export/mask',
      attributes: { to: TensorElementType.float32 },
      outputs: [output],
    })
  }
}

/**
 * Replace the runtime inputs `use` names in `model` (a compiled steered graph, modified in place) by in-graph
 * values: masks from `input_ids`/`attention_mask`, token indices likewise, and `strength` as a constant.
 */
export function bakeRuntimeInputs(model: ModelProto, use: RuntimeInputUse, strength: number): void {
  if (!Number.isFinite(strength)) {
    throw new TillerError('invalid-argument', `Strength ${strength} is not a finite number.`, {
      subject: 'strength',
    })
  }
  checkExportablePolicies(use.policies, 'The edit')
  const replaced = new Set<string>(use.maskInputs)
  if (use.usesStrength) replaced.add(runtimeInputNames.strength)
  if (use.usesTokenIndex) replaced.add(runtimeInputNames.tokenIndex)
  const graph = model.graph
  const inputNames = new Set(graph.input.map((input) => input.name))
  for (const name of [graphInputs.inputIds, graphInputs.attentionMask]) {
    if (!inputNames.has(name)) {
      throw new TillerError(
        'invalid-model-folder',
        `The graph has no ${name} input; an exported steered graph computes its edit masks from input_ids and ` +
          'attention_mask, so export from a decoder graph that takes both.',
        { subject: name },
      )
    }
  }
  const opset = opsetVersion(model, '') ?? 0
  if (opset < minimumOpset) {
    throw new TillerError(
      'invalid-model-folder',
      `The graph imports ai.onnx opset ${opset}; exporting a steered graph needs opset ${minimumOpset} or later ` +
        '(CumSum, Range). Re-export the model with a newer opset.',
      { subject: 'opset_import' },
    )
  }
  graph.input = graph.input.filter((input) => !replaced.has(input.name))
  const editor = new GraphEditor(model)
  const masks = new MaskBuilder(editor)
  use.policies.forEach((policy, index) => masks.mask(policy, use.maskInputs[index] ?? ''))
  if (use.usesTokenIndex) {
    const zero = editor.constant('export/zero_index', 'int64', [], BigInt64Array.of(0n))
    editor.node('Where', [masks.real, masks.tokenIndex, zero], {
      name: 'export/token_index_real',
      outputs: [runtimeInputNames.tokenIndex],
    })
  }
  if (use.usesStrength) {
    const value = editor.constant('export/strength_value', 'float32', [1], Float32Array.of(strength))
    editor.node('Expand', [value, masks.batch], {
      name: 'export/strength',
      outputs: [runtimeInputNames.strength],
    })
  }
  editor.finish()
}
