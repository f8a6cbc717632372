import type { PositionPolicy } from '../../../../shared/edit.ts'
import type { GraphEditor } from '../../models/locator/graph-editor.ts'
import { policyKey } from '../positions.ts'

/**
 * The runtime inputs a steered graph adds (DESIGN.md §4):
 *   tiller_strength        float32 [batch]        per-row strength α (0 = the base model, exactly)
 *   tiller_edit_mask       float32 [batch, seq]   1 where the edit applies, for the first distinct position policy
 *   tiller_edit_mask_{k}   float32 [batch, seq]   the same for the k-th distinct policy (k ≥ 1), when edits differ
 *   tiller_token_index     int64   [batch, seq]   each fed position's real token index (only with `addAt`)
 * The runtime computes masks per step from the policy (`positions.ts`); `CompiledGraph.policies[k]` says which
 * policy mask input k carries.
 */
export const runtimeInputNames = {
  strength: 'tiller_strength',
  tokenIndex: 'tiller_token_index',
} as const

/** Name of the mask input for the k-th distinct position policy. */
export function maskInputName(policyIndex: number): string {
  return policyIndex === 0 ? 'tiller_edit_mask' : `tiller_edit_mask_${policyIndex}`
}

/** Declares the runtime inputs on first use and builds one gate `α ⊙ mask` `[batch, seq, 1]` per policy. */
export class RuntimeInputs {
  readonly policies: PositionPolicy[] = []
  private readonly gates = new Map<string, string>()
  private strength: string | undefined
  private tokenIndexInput: string | undefined

  constructor(private readonly editor: GraphEditor) {}

  /** The gate for `policy`, float32 `[batch, seq, 1]`. */
  gate(policy: PositionPolicy): string {
    const key = policyKey(policy)
    const known = this.gates.get(key)
    if (known !== undefined) return known
    const editor = this.editor
    if (this.strength === undefined) {
      const input = editor.input(runtimeInputNames.strength, 'float32', ['batch_size'])
      const shape = editor.constant('gates/strength_shape', 'int64', [3], BigInt64Array.of(-1n, 1n, 1n))
      this.strength = editor.node('Reshape', [input, shape], { name: 'gates/strength' })
    }
    const index = this.policies.length
    this.policies.push(policy)
    const mask = editor.input(maskInputName(index), 'float32', ['batch_size', 'sequence_length'])
    const shape = editor.constant(`gates/mask_shape_${index}`, 'int64', [3], BigInt64Array.of(0n, 0n, 1n))
    const column = editor.node('Reshape', [mask, shape], { name: `gates/mask_${index}` })
    const gate = editor.node('Mul', [this.strength, column], { name: `gates/gate_${index}` })
    this.gates.set(key, gate)
    return gate
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
