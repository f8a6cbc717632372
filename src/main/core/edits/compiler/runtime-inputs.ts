import type { HookSite, PositionPolicy } from '../../../../shared/edit.ts'
import type { GraphEditor } from '../../models/locator/graph-editor.ts'
import { hookOutputName } from '../../models/locator/hook-map.ts'
import { policyKey } from '../positions.ts'

/**
 * The runtime inputs a steered graph adds (DESIGN.md §4):
 *   tiller_strength        float32 [batch]        per-row strength α (0 = the base model, exactly)
 *   tiller_edit_mask       float32 [batch, seq]   1 where the edit applies, for the first distinct position policy
 *   tiller_edit_mask_{k}   float32 [batch, seq]   the same for the k-th distinct policy (k ≥ 1), when edits differ
 *   tiller_token_index     int64   [batch, seq]   each fed position's real token index (only with `addAt`)
 *   tiller_edit_strength   float32 [batch, edits] per-row, per-edit factor on α (only when compiled with
 *                                                 `strengthPerEdit`, for edits stacked with their own strengths)
 *   tiller_patch.{site}.{layer} float32 [batch, width] the site's clean value at the patched position (only with
 *                                                 `patch` ops), read from hook `hook.{site}.{layer}.input` of a
 *                                                 strength-0 pass over the same prefix (edits/patch-values.ts)
 * The runtime computes masks per step from the policy (`positions.ts`); `CompiledGraph.policies[k]` says which
 * policy mask input k carries.
 */
export const runtimeInputNames = {
  strength: 'tiller_strength',
  tokenIndex: 'tiller_token_index',
  editStrength: 'tiller_edit_strength',
} as const

/** A `patch` op's runtime input: the clean value of one site at the patched position. */
export interface PatchInput {
  /** `tiller_patch.{site}.{layer}`, float32 `[batch, width]`. */
  name: string
  layer: number
  site: HookSite
  width: number
  /** The hook output carrying the site's pre-edit value, which a strength-0 pass reads c from. */
  hook: string
}

/** Name of the mask input for the k-th distinct position policy. */
export function maskInputName(policyIndex: number): string {
  return policyIndex === 0 ? 'tiller_edit_mask' : `tiller_edit_mask_${policyIndex}`
}

/**
 * Declares the runtime inputs on first use and builds the gates: one `α ⊙ mask` `[batch, seq, 1]` per policy, or,
 * with `editCount` (edits stacked with their own strengths), one `(α ⊙ β_e) ⊙ mask` per policy and edit e, where
 * β = `tiller_edit_strength`. β_e = 1 gives α exactly (x·1 = x in float32), so such a graph fed ones matches the
 * graph without β bit for bit, and β_e = 0 switches edit e off exactly.
 */
export class RuntimeInputs {
  readonly policies: PositionPolicy[] = []
  readonly patchInputs: PatchInput[] = []
  private readonly gates = new Map<string, string>()
  private readonly scaledGates = new Map<string, string>()
  private readonly masks = new Map<string, string>()
  private readonly rowStrengths = new Map<number, string>()
  private strength: string | undefined
  private editStrength: string | undefined
  private tokenIndexInput: string | undefined

  /** `editCount`: declare `tiller_edit_strength [batch, editCount]` and gate each edit by its own column. */
  constructor(
    private readonly editor: GraphEditor,
    private readonly editCount?: number,
  ) {}

  /** The gate of `policy` for the edit at `editPosition` (in the compiled order), float32 `[batch, seq, 1]`. */
  gate(policy: PositionPolicy, editPosition = 0): string {
    const perEdit = this.editCount !== undefined
    const key = perEdit ? `${policyKey(policy)}|${editPosition}` : policyKey(policy)
    const known = this.gates.get(key)
    if (known !== undefined) return known
    const suffix = perEdit ? `_${this.gates.size}` : `_${this.policies.length}`
    const gate = this.editor.node('Mul', [this.rowStrength(editPosition), this.mask(policy)], {
      name: `gates/gate${suffix}`,
    })
    this.gates.set(key, gate)
    return gate
  }

  /** `factor · gate(policy, editPosition)`, one node per distinct gate and factor. */
  scaledGate(policy: PositionPolicy, editPosition: number, factor: number): string {
    const gate = this.gate(policy, editPosition)
    const key = `${gate}|${factor}`
    const known = this.scaledGates.get(key)
    if (known !== undefined) return known
    const constant = this.editor.constant('gates/factor', 'float32', [], Float32Array.of(factor))
    const scaled = this.editor.node('Mul', [gate, constant], { name: 'gates/scaled_gate' })
    this.scaledGates.set(key, scaled)
    return scaled
  }

  /** Whether the graph reads `tiller_edit_strength`. */
  get usesEditStrength(): boolean {
    return this.editStrength !== undefined
  }

  /** α `[batch, 1, 1]`, times β_e `[batch, 1, 1]` when edits carry their own strengths. */
  private rowStrength(editPosition: number): string {
    const editor = this.editor
    if (this.strength === undefined) {
      const input = editor.input(runtimeInputNames.strength, 'float32', ['batch_size'])
      const shape = editor.constant('gates/strength_shape', 'int64', [3], BigInt64Array.of(-1n, 1n, 1n))
      this.strength = editor.node('Reshape', [input, shape], { name: 'gates/strength' })
    }
    if (this.editCount === undefined) return this.strength
    const known = this.rowStrengths.get(editPosition)
    if (known !== undefined) return known
    this.editStrength ??= editor.input(runtimeInputNames.editStrength, 'float32', [
      'batch_size',
      this.editCount,
    ])
    const column = editor.constant(
      `gates/edit_${editPosition}_column`,
      'int64',
      [],
      BigInt64Array.of(BigInt(editPosition)),
    )
    // [batch, edits] → [batch]
    const factor = editor.node('Gather', [this.editStrength, column], {
      name: `gates/edit_${editPosition}_factor`,
      attributes: { axis: 1 },
    })
    const shape = editor.constant(
      `gates/edit_${editPosition}_shape`,
      'int64',
      [3],
      BigInt64Array.of(-1n, 1n, 1n),
    )
    const reshaped = editor.node('Reshape', [factor, shape], { name: `gates/edit_${editPosition}_strength` })
    const product = editor.node('Mul', [this.strength, reshaped], { name: `gates/edit_${editPosition}_gate` })
    this.rowStrengths.set(editPosition, product)
    return product
  }

  /** The mask of `policy` as `[batch, seq, 1]`, declaring its input on first use. */
  private mask(policy: PositionPolicy): string {
    const key = policyKey(policy)
    const known = this.masks.get(key)
    if (known !== undefined) return known
    const index = this.policies.length
    this.policies.push(policy)
    const mask = this.editor.input(maskInputName(index), 'float32', ['batch_size', 'sequence_length'])
    const shape = this.editor.constant(
      `gates/mask_shape_${index}`,
      'int64',
      [3],
      BigInt64Array.of(0n, 0n, 1n),
    )
    const column = this.editor.node('Reshape', [mask, shape], { name: `gates/mask_${index}` })
    this.masks.set(key, column)
    return column
  }

  /** The clean-value input of a patched site `[batch, width]`, declared on first use. */
  patchInput(layer: number, site: HookSite, width: number): string {
    const name = `tiller_patch.${site}.${layer}`
    if (!this.patchInputs.some((input) => input.name === name)) {
      this.editor.input(name, 'float32', ['batch_size', width])
      this.patchInputs.push({ name, layer, site, width, hook: `${hookOutputName(site, layer)}.input` })
    }
    return name
  }

  /** `tiller_token_index`, declared on first use. */
  tokenIndex(): string {
    this.tokenIndexInput ??= this.editor.input(runtimeInputNames.tokenIndex, 'int64', [
      'batch_size',
      'sequence_length',
    ])
    return this.tokenIndexInput
  }

  /** Whether `tiller_token_index` was declared. */
  get usesTokenIndex(): boolean {
    return this.tokenIndexInput !== undefined
  }
}
