import type { Intervention, Op } from '../../../../shared/edit.ts'
import type { GraphEditor } from '../../models/locator/graph-editor.ts'
import { canonicalSite, type SiteLocation } from '../../models/locator/hook-map.ts'
import { TillerError } from '../../errors.ts'
import { TensorElementType } from '../../onnx/proto.ts'
import { lowerAdd, lowerAddAt } from './lower-additive.ts'
import { lowerHouseholder } from './lower-householder.ts'
import { lowerPatch } from './lower-patch.ts'
import { lowerProject } from './lower-project.ts'
import { lowerScale } from './lower-scale.ts'
import { lowerSpectral } from './lower-spectral.ts'
import { readsInput, type LoweringContext } from './lowering.ts'
import type { RuntimeInputs } from './runtime-inputs.ts'

/**
 * One physical site's edit chain. Interventions at a site apply in order: h₁ = h₀ + δ₁(h₀), h₂ = h₁ + δ₂(h₁), …
 * Deltas are computed in float32 (METHODS.md §0.3).
 *
 * A plain tensor site gets `h' = h + δ` and every original reader is rewired to h'; in a float16 graph the add
 * happens where it leaves the base numerics untouched at strength 0 (see `isEmbedding`). A fused residual site
 * (builder family) gets `skip' = skip + δ`: the fused norm then computes both the edited sum (output 3) and its
 * normalization (output 0), and the fused kernel stays in place.
 */

/** An intervention placed at one site, with its node-name label. */
export interface PlacedIntervention {
  intervention: Intervention
  /** Which edit of the compiled list it belongs to (its strength column when edits have their own). */
  editPosition: number
  label: string
}

/** The site's value before and after its chain (`before` only when it was computed). */
export interface SiteChain {
  before: string | undefined
  after: string
}

function lowerOp(context: LoweringContext, input: string, op: Exclude<Op, { kind: 'patch' }>): string {
  switch (op.kind) {
    case 'add':
      return lowerAdd(context, input, op)
    case 'addAt':
      return lowerAddAt(context, input, op)
    case 'project':
      return lowerProject(context, input, op)
    case 'scale':
      return lowerScale(context, input, op)
    case 'spectral':
      return lowerSpectral(context, input, op)
    case 'householder':
      return lowerHouseholder(context, input, op)
  }
}

/**
 * Whether `tensor` of a float16 graph is the token embedding: the output of a Gather (or a graph input). The CPU
 * provider runs that Gather in float16 and layer 0's float16 norm reads it directly. A float16 Add placed there has
 * no CPU kernel: ONNX Runtime runs it in float32 and, with its cast back dropped, the norm becomes an isolated
 * float16 node between float32 ones, which it moves to float32 as well, changing the base numerics at strength 0.
 * Everywhere else the float16 Add stays: it joins float32 regions ONNX Runtime already runs there, and measured
 * bit-exact at every other site of both families (test/compiler/float16-strength-zero.test.ts), whereas explicit
 * casts there were not (at attn_out with the site exposed as a hook, their rounding is kept where ONNX Runtime
 * drops its own).
 */
function isEmbedding(editor: GraphEditor, tensor: string): boolean {
  const producer = editor.model.graph.node.find((node) => node.output.includes(tensor))
  return producer === undefined || ((producer.domain ?? '') === '' && producer.opType === 'Gather')
}

/** Build the chain for `placed` (all at `location`). `keepBefore` forces the pre-edit value to be materialized. */
export function lowerSite(
  editor: GraphEditor,
  runtime: RuntimeInputs,
  location: SiteLocation,
  width: number,
  activationType: 'float32' | 'float16',
  placed: readonly PlacedIntervention[],
  keepBefore: boolean,
): SiteChain {
  // Edits compute in float32; a float16 graph casts around them (nothing to do in a float32 graph).
  const castTo =
    (target: 'float32' | 'float16') =>
    (tensor: string, label: string): string =>
      activationType === 'float32'
        ? tensor
        : editor.node('Cast', [tensor], {
            name: `${label}/to_${target}`,
            attributes: { to: TensorElementType[target] },
          })
  const toFloat = castTo('float32')
  const fromFloat = castTo('float16')
  const contextFor = (entry: PlacedIntervention): LoweringContext => ({
    editor,
    gate: runtime.gate(entry.intervention.positions, entry.editPosition),
    scaledGate: (factor) => runtime.scaledGate(entry.intervention.positions, entry.editPosition, factor),
    width,
    label: entry.label,
    tokenIndex: () => runtime.tokenIndex(),
  })

  // A patch replaces the value where its gate is non-zero (lower-patch.ts), in the value's own type.
  const patchAt = (entry: PlacedIntervention, current: string, inFloat32: boolean): string => {
    const { op } = entry.intervention
    if (op.kind !== 'patch') throw new Error(`patchAt called for a ${op.kind} op`)
    const address = canonicalSite(entry.intervention)
    const clean = runtime.patchInput(address.layer, address.site, width)
    const { patched, untouched } = lowerPatch(contextFor(entry), clean, op)
    const replacement = inFloat32 ? patched : fromFloat(patched, entry.label)
    return editor.node('Where', [untouched, current, replacement], { name: `${entry.label}/apply` })
  }
  // Each delta cast to the activation type and added at the site: h₁ = h₀ + cast(δ₁(h₀)), ...
  const chainAtSite = (site: string): string => {
    let current = site
    for (const entry of placed) {
      const { op } = entry.intervention
      if (op.kind === 'patch') {
        current = patchAt(entry, current, false)
        continue
      }
      const input = readsInput(op) ? toFloat(current, entry.label) : ''
      const delta = fromFloat(lowerOp(contextFor(entry), input, op), entry.label)
      current = editor.node('Add', [current, delta], { name: `${entry.label}/apply` })
    }
    return current
  }
  // The whole chain in float32 between one explicit cast in and one back (x → float32 → + 0 → float16 is exact);
  // explicit casts are kept by ONNX Runtime, so every original node keeps its precision.
  const chainInFloat32 = (site: string): string => {
    let current = toFloat(site, placed[0]?.label ?? 'edits')
    for (const entry of placed) {
      const { op } = entry.intervention
      if (op.kind === 'patch') {
        current = patchAt(entry, current, true)
        continue
      }
      const delta = lowerOp(contextFor(entry), readsInput(op) ? current : '', op)
      current = editor.node('Add', [current, delta], { name: `${entry.label}/apply` })
    }
    return fromFloat(current, `${placed[placed.length - 1]?.label ?? 'edits'}/result`)
  }

  if (location.kind === 'tensor') {
    const after =
      activationType === 'float16' && isEmbedding(editor, location.tensor)
        ? chainInFloat32(location.tensor)
        : chainAtSite(location.tensor)
    editor.rewire(location.tensor, after)
    return { before: location.tensor, after }
  }

  const patched = placed.find((entry) => entry.intervention.op.kind === 'patch')
  if (patched !== undefined) {
    // The fused node only lets an edit add to its skip input, and root + (c − root) is not c exactly.
    const { layer, site } = patched.intervention
    throw new TillerError(
      'unrepresentable-edit',
      `A patch (SADI mode=patch) at ${site} of layer ${layer} would replace a residual sum computed inside the ` +
        `fused ${location.node}; patch mode edits attn_heads, mlp_gate or mlp_out. Refit with mode=live.`,
      { subject: `${site}.${layer}` },
    )
  }
  const node = editor.requireNode(location.node)
  const root = node.input[location.rootInput] ?? ''
  let skip = node.input[location.skipInput] ?? ''
  const needsSum = keepBefore || placed.some((entry) => readsInput(entry.intervention.op))
  const before = needsSum
    ? editor.node('Add', [root, skip], { name: `${placed[0]?.label ?? 'edits'}/residual` })
    : undefined
  let sum = before
  placed.forEach((entry, position) => {
    const { op } = entry.intervention
    if (op.kind === 'patch') return
    const input = readsInput(op) && sum !== undefined ? toFloat(sum, entry.label) : ''
    const delta = fromFloat(lowerOp(contextFor(entry), input, op), entry.label)
    skip = editor.node('Add', [skip, delta], { name: `${entry.label}/apply_skip` })
    const laterReads = placed.slice(position + 1).some((later) => readsInput(later.intervention.op))
    if (laterReads && sum !== undefined)
      sum = editor.node('Add', [sum, delta], { name: `${entry.label}/apply` })
  })
  node.input[location.skipInput] = skip
  return { before, after: editor.fusedSum(location.node) }
}
