/**
 * Composing edits: one edit that applies several fitted on the same model, each scaled by its own strength, as the
 * compiler applies a stack (interventions in order, each at its site). Only ops whose effect is linear in the
 * strength can carry a strength other than 1 inside the edit: `add` (h + α·s·v), `addAt` and `scale`; projections,
 * spectral and Householder edits enter at strength 1 or are refused with the reason.
 */
import { randomUUID } from 'node:crypto'
import { editFormatVersion, type Edit, type Intervention, type Op } from '../../../shared/edit.ts'
import { fingerprintDifference } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'

/** One edit of a composition and its strength. */
export interface CompositionPart {
  edit: Edit
  name: string
  strength: number
}

function scaled(values: Float32Array, strength: number): Float32Array {
  return values.map((value) => value * strength)
}

function scaleOp(op: Op, strength: number, where: string): Op {
  if (strength === 1) return op
  switch (op.kind) {
    case 'add':
      return { kind: 'add', vector: scaled(op.vector, strength) }
    case 'addAt':
      return { kind: 'addAt', vectors: scaled(op.vectors, strength), count: op.count }
    case 'scale':
    case 'patch':
      return { kind: op.kind, factors: scaled(op.factors, strength) }
    default:
      throw new TillerError(
        'invalid-argument',
        `${where} is a ${op.kind} edit, whose strength acts outside its vectors; compose it at strength 1.`,
        { subject: 'parts' },
      )
  }
}

/** The composed edit: every part's interventions, scaled, in the order given. */
export function composeEdits(parts: readonly CompositionPart[], created: Date = new Date()): Edit {
  const [first] = parts
  if (first === undefined || parts.length < 2) {
    throw new TillerError('invalid-argument', 'Choose at least two edits to compose.', { subject: 'parts' })
  }
  parts.forEach((part, index) => {
    const field = fingerprintDifference(first.edit.model, part.edit.model)
    if (field !== undefined) {
      throw new TillerError(
        'invalid-argument',
        `${part.name} was fitted on another model than ${first.name} (their ${field} differs); compose edits of one model.`,
        { subject: `parts.${index}` },
      )
    }
  })
  const interventions: Intervention[] = parts.flatMap((part) =>
    part.edit.interventions.map((intervention) => ({
      ...intervention,
      op: scaleOp(intervention.op, part.strength, part.name),
    })),
  )
  return {
    version: editFormatVersion,
    id: randomUUID(),
    method: first.edit.method,
    options: {
      composedOf: parts.map((part) => ({
        id: part.edit.id,
        name: part.name,
        method: part.edit.method,
        strength: part.strength,
      })),
    },
    model: first.edit.model,
    interventions,
    created: created.toISOString(),
    notes: `Composed of ${parts.map((part) => `${part.name} × ${part.strength}`).join(', ')}.`,
  }
}
