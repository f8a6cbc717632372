/**
 * The method registry: one entry per implemented method, keyed by `MethodId`, plus `fitEdit`, which turns a fit
 * into a complete `Edit` with provenance.
 */
import { randomUUID } from 'node:crypto'
import type { ActivationSet } from '../../../shared/activations.ts'
import { editFormatVersion, type Edit, type MethodId } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'
import { ablation } from './ablation.ts'
import { actAdd } from './actadd.ts'
import { caa } from './caa.ts'
import { hpr } from './hpr.ts'
import { iti } from './iti.ts'
import { meanDiff } from './mean-diff.ts'
import type { FitContext, Method, MethodFit } from './method.ts'
import { parseOptions } from './method.ts'
import { pcaCenter } from './pca-center.ts'
import { pcaDiff } from './pca-diff.ts'
import { phiSea } from './phi-sea.ts'
import { sadi } from './sadi.ts'
import { sea } from './sea.ts'

/** The additive and projection baselines. */
export const additiveMethodIds = ['actadd', 'caa', 'mean-diff', 'pca-diff', 'pca-center', 'ablation'] as const
/** Every method this registry implements, in registry order. */
export const implementedMethodIds = [...additiveMethodIds, 'sea', 'phi-sea', 'hpr', 'iti', 'sadi'] as const
/** Ids of the implemented methods. */
export type ImplementedMethodId = (typeof implementedMethodIds)[number] & MethodId

/** A method with its options type widened, as the registry stores it (each method's schema checks its own). */
export type AnyMethod = Method<Record<string, unknown>>

/** Every implemented method by id. */
export const methods = {
  actadd: actAdd,
  caa,
  'mean-diff': meanDiff,
  'pca-diff': pcaDiff,
  'pca-center': pcaCenter,
  ablation,
  sea,
  'phi-sea': phiSea,
  hpr,
  iti,
  sadi,
} as const satisfies Record<ImplementedMethodId, AnyMethod>

/** Look a method up by a user-given name; unknown names list the known ones. */
export function methodById(id: string): AnyMethod {
  const method = (methods as Record<string, AnyMethod | undefined>)[id]
  if (method === undefined) {
    throw new TillerError(
      'invalid-argument',
      `Unknown method "${id}"; choose one of ${implementedMethodIds.join(', ')}.`,
      {
        subject: 'method',
      },
    )
  }
  return method
}

/** Provenance an edit carries besides what the fit produced. */
export interface EditProvenance {
  notes?: string
  /** Override for reproducible ids in tests. */
  id?: string
  created?: Date
}

/**
 * Fit `method` on captured activations and wrap the result as an Edit (options merged with defaults, the model
 * fingerprint from the activations).
 */
export async function fitEdit(
  method: AnyMethod,
  activations: ActivationSet,
  options: Record<string, unknown>,
  provenance: EditProvenance = {},
  context: FitContext = {},
): Promise<{ edit: Edit; fit: MethodFit }> {
  const parsed: Record<string, unknown> = parseOptions(method, options)
  const fit = await method.fit(activations, parsed, context)
  const edit: Edit = {
    version: editFormatVersion,
    id: provenance.id ?? randomUUID(),
    method: method.id,
    options: JSON.parse(JSON.stringify(parsed)) as Record<string, unknown>,
    model: activations.model,
    interventions: fit.interventions,
    created: (provenance.created ?? new Date()).toISOString(),
    notes: [provenance.notes, ...fit.notes].filter((note) => note !== undefined && note !== '').join('\n'),
  }
  return { edit, fit }
}
