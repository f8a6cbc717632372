import { hookSites, spectralMerges, type Edit, type Intervention, type Op } from '../../../../shared/edit.ts'
import { TillerError } from '../../errors.ts'
import type { HookMap } from '../../models/locator/hook-map.ts'

/**
 * Checks every intervention against the located sites before anything is built, so a bad edit fails with a
 * message naming the edit, the intervention and the field instead of an ONNX Runtime shape error.
 */

function fail(edit: Edit, position: number, field: string, problem: string): TillerError {
  const subject = `edit ${edit.id} intervention ${position} ${field}`
  return new TillerError(
    'invalid-argument',
    `Edit ${edit.id}, intervention ${position}: ${field} ${problem}.`,
    {
      subject,
    },
  )
}

function checkLength(
  edit: Edit,
  position: number,
  field: string,
  values: unknown,
  expected: number,
  needs = 'the site needs',
): void {
  if (!(values instanceof Float32Array)) throw fail(edit, position, field, 'is not a Float32Array')
  if (values.length !== expected) {
    throw fail(edit, position, field, `has ${values.length} values; ${needs} ${expected}`)
  }
  if (!values.every(Number.isFinite)) throw fail(edit, position, field, 'contains NaN or infinite values')
}

function checkRank(edit: Edit, position: number, field: string, rank: unknown, width: number): number {
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank > width)
    throw fail(
      edit,
      position,
      field,
      `is ${String(rank)}; it must be a whole number from 0 to the width ${width}`,
    )
  return rank
}

function checkChoice(
  edit: Edit,
  position: number,
  field: string,
  value: unknown,
  choices: readonly string[],
): void {
  if (typeof value !== 'string' || !choices.includes(value))
    throw fail(edit, position, field, `is ${JSON.stringify(value)}; it must be one of ${choices.join(', ')}`)
}

function checkSpectral(
  edit: Edit,
  position: number,
  op: Extract<Op, { kind: 'spectral' }>,
  width: number,
): void {
  const keepRank = checkRank(edit, position, 'op.keepRank', op.keepRank, width)
  const removeRank = checkRank(edit, position, 'op.removeRank', op.removeRank, width)
  checkLength(edit, position, 'op.keep', op.keep, keepRank * width)
  checkLength(edit, position, 'op.remove', op.remove, removeRank * width)
  checkChoice(edit, position, 'op.merge', op.merge, spectralMerges)
  checkChoice(edit, position, 'op.phi', op.phi, ['identity', 'squared-exponential', 'tanh', 'elu'])
  checkChoice(edit, position, 'op.phiMode', op.phiMode, ['paper', 'code'])
}

function checkHouseholder(
  edit: Edit,
  position: number,
  op: Extract<Op, { kind: 'householder' }>,
  width: number,
): void {
  checkLength(edit, position, 'op.probe', op.probe, width)
  const probeSquared = op.probe.reduce((total, value) => total + value * value, 0)
  // θ = 0 makes the reflection 0/0 (METHODS.md §2.9); 2/θᵀθ must also stay a finite float32.
  if (!(probeSquared >= 1e-30 && probeSquared <= 1e30))
    throw fail(
      edit,
      position,
      'op.probe',
      `has squared norm ${probeSquared}; it must be between 1e-30 and 1e30 (refit the probe)`,
    )
  const widths = op.angleWidths
  if (
    !Array.isArray(widths) ||
    widths.length < 2 ||
    !widths.every((value) => Number.isInteger(value) && value >= 1)
  )
    throw fail(
      edit,
      position,
      'op.angleWidths',
      'must list at least two positive whole numbers [width, …, 1]',
    )
  if (widths[0] !== width)
    throw fail(
      edit,
      position,
      'op.angleWidths[0]',
      `is ${widths[0]}; the angle network reads the site's width ${width}`,
    )
  if (widths[widths.length - 1] !== 1)
    throw fail(
      edit,
      position,
      `op.angleWidths[${widths.length - 1}]`,
      `is ${widths[widths.length - 1]}; the angle network ends in one number`,
    )
  const layers = widths.length - 1
  for (const field of ['angleWeights', 'angleBiases'] as const) {
    if (!Array.isArray(op[field]) || op[field].length !== layers)
      throw fail(edit, position, `op.${field}`, `must hold ${layers} arrays, one per layer of angleWidths`)
  }
  for (let layer = 0; layer < layers; layer++) {
    const inputs = widths[layer] ?? 0
    const outputs = widths[layer + 1] ?? 0
    const shape = `angleWidths [${inputs} → ${outputs}] needs`
    checkLength(edit, position, `op.angleWeights[${layer}]`, op.angleWeights[layer], outputs * inputs, shape)
    checkLength(edit, position, `op.angleBiases[${layer}]`, op.angleBiases[layer], outputs, shape)
  }
}

function checkIntervention(edit: Edit, position: number, intervention: Intervention, map: HookMap): void {
  const { layer, site, op } = intervention
  if (!Number.isInteger(layer) || layer < 0 || layer >= map.layers.length) {
    throw fail(edit, position, 'layer', `is ${layer}; the model has layers 0–${map.layers.length - 1}`)
  }
  if (!hookSites.includes(site))
    throw fail(edit, position, 'site', `"${String(site)}" is not one of ${hookSites.join(', ')}`)
  const width = map.widths[site]
  switch (op.kind) {
    case 'add':
      return checkLength(edit, position, 'op.vector', op.vector, width)
    case 'addAt':
      if (!Number.isInteger(op.count) || op.count < 1)
        throw fail(edit, position, 'op.count', 'must be a positive whole number')
      return checkLength(edit, position, 'op.vectors', op.vectors, op.count * width)
    case 'project':
      if (!Number.isInteger(op.rank) || op.rank < 1)
        throw fail(edit, position, 'op.rank', 'must be a positive whole number')
      if (op.mode !== 'keep' && op.mode !== 'remove')
        throw fail(edit, position, 'op.mode', 'must be keep or remove')
      return checkLength(edit, position, 'op.basis', op.basis, op.rank * width)
    case 'scale':
      return checkLength(edit, position, 'op.factors', op.factors, width)
    case 'patch':
      // One recorded value per row: the policy must pick at most one position per row.
      if (intervention.positions.kind !== 'lastPromptToken')
        throw fail(
          edit,
          position,
          'positions',
          `is ${intervention.positions.kind}; a patch op applies only at lastPromptToken`,
        )
      return checkLength(edit, position, 'op.factors', op.factors, width)
    case 'spectral':
      return checkSpectral(edit, position, op, width)
    case 'householder':
      return checkHouseholder(edit, position, op, width)
    default:
      throw fail(edit, position, 'op.kind', `"${String((op as { kind: unknown }).kind)}" is unknown`)
  }
}

/** Throw a TillerError for the first intervention that does not fit the model's sites. */
export function checkEdits(edits: readonly Edit[], map: HookMap): void {
  for (const edit of edits)
    edit.interventions.forEach((intervention, position) =>
      checkIntervention(edit, position, intervention, map),
    )
}
