import { hookSites, type Edit, type Intervention } from '../../../../shared/edit.ts'
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

function checkLength(edit: Edit, position: number, field: string, values: unknown, expected: number): void {
  if (!(values instanceof Float32Array)) throw fail(edit, position, field, 'is not a Float32Array')
  if (values.length !== expected) {
    throw fail(edit, position, field, `has ${values.length} values; the site needs ${expected}`)
  }
  if (!values.every(Number.isFinite)) throw fail(edit, position, field, 'contains NaN or infinite values')
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
    case 'spectral':
    case 'householder':
      throw fail(
        edit,
        position,
        'op.kind',
        `${op.kind} cannot be compiled yet (supported: add, addAt, project, scale)`,
      )
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
