/**
 * The Fit and Evaluate screens' side of the contract: layer diagnostics of a demonstration set, evaluations of a
 * held edit (saved under the workspace's `runs/`), the saved runs, and picking an edit's default strength. Like
 * the steering requests, everything checkable is checked before a job starts.
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { parseRequestArgs, type ContractService } from '../../../shared/contract.ts'
import { sweepStrengths } from '../../../shared/evaluation.ts'
import { checkFingerprint, fingerprintDifference } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import { itemSetName } from '../eval/edit-evaluation.ts'
import { strengthGrid } from '../eval/strength-sweep.ts'
import type { JobRegistry } from '../jobs/job-registry.ts'
import { methodById } from '../methods/index.ts'
import { parseOptions } from '../methods/method.ts'
import type { EditStore } from './edit-store.ts'
import type { EngineModel, EngineRuntime } from './engine-runtime.ts'
import { listRuns, runId, saveRun } from './evaluation-runs.ts'
import type { FingerprintOf } from './fingerprint-cache.ts'

/** What the evaluation requests need from the engine that hosts them. */
export interface EvaluationContext<Model extends EngineModel> {
  runtime: EngineRuntime<Model>
  jobs: JobRegistry
  readyModel(action: string): Model
  currentModel(): Model | null
  store: EditStore
  fingerprintOf: FingerprintOf<Model>
  /** The bundled datasets folder (its `neutral.jsonl` is the fallback reference text), or null. */
  bundledDatasets: string | null
  /** Where runs are saved; default the workspace's `runs/`. */
  runsDirectory?: string
}

type EvaluationRequestName = 'diagnostics:layers' | 'evaluation:run' | 'evaluation:runs' | 'edit:set-strength'

export type EvaluationRequests = Pick<ContractService, EvaluationRequestName>

function existingFile(path: string, what: string, field: string): string {
  const absolute = resolve(path)
  if (!existsSync(absolute)) {
    throw new TillerError('file-not-found', `${absolute} does not exist; choose ${what}.`, { subject: field })
  }
  return absolute
}

function unsupported(what: string): TillerError {
  return new TillerError('internal', `This engine's runtime cannot ${what}.`)
}

/** Other behaviours' multiple-choice files beside `dataset` (`<behaviour>.mc.jsonl`). */
async function sideSetsOf(dataset: string): Promise<string[]> {
  const own = itemSetName(dataset).behaviour
  const names = await readdir(dirname(dataset))
  return names
    .filter((name) => /\.mc\.jsonl$/i.test(name) && itemSetName(name).behaviour !== own)
    .sort()
    .map((name) => join(dirname(dataset), name))
}

/** Neutral reference text: `neutral.jsonl` beside the items, else the bundled one, else none. */
function referenceTextFor(dataset: string, bundled: string | null): string | undefined {
  const candidates = [join(dirname(dataset), 'neutral.jsonl')]
  if (bundled !== null) candidates.push(join(bundled, 'neutral.jsonl'))
  return candidates.find((path) => existsSync(path))
}

/** Create the evaluation requests over `context`. */
export function createEvaluationRequests<Model extends EngineModel>(
  context: EvaluationContext<Model>,
): EvaluationRequests {
  const { runtime, jobs, store } = context

  return {
    async 'diagnostics:layers'(args) {
      const request = parseRequestArgs('diagnostics:layers', args)
      const model = context.readyModel('diagnose layers')
      const diagnose = runtime.diagnoseLayers?.bind(runtime)
      if (diagnose === undefined) throw unsupported('diagnose layers')
      const method = methodById(request.method)
      const options = { ...request.options }
      delete options['layers']
      // Checked now so a bad option is the request's error, not the job's.
      parseOptions(method, options)
      const dataset = existingFile(request.dataset, 'a demonstration file', 'dataset')
      const fingerprint = await context.fingerprintOf(model)
      const measured = request.edit === undefined ? undefined : store.get(request.edit.id)
      if (measured !== undefined) {
        checkFingerprint(fingerprint, measured.edit.model, measured.path ?? `The edit ${measured.edit.id}`)
      }
      const compareWith = store
        .all()
        .filter(
          (stored) =>
            stored.edit.id !== measured?.edit.id &&
            fingerprintDifference(fingerprint, stored.edit.model) === undefined,
        )
        .map((stored) => ({
          id: stored.edit.id,
          label: store.summarize(stored, fingerprint).label,
          method: stored.edit.method,
          edit: stored.edit,
        }))
      const label = `layers of ${basename(dataset)} at ${method.id}'s site`
      return jobs.start('diagnostics', label, async ({ signal, progress }) =>
        diagnose(model, {
          dataset,
          method: method.id,
          options,
          maxPairs: request.maxPairs,
          fingerprint,
          ...(measured === undefined || request.edit === undefined
            ? {}
            : { edit: { edit: measured.edit, strength: request.edit.strength }, compareWith }),
          signal,
          onProgress: progress,
        }),
      )
    },

    async 'evaluation:run'(args) {
      const request = parseRequestArgs('evaluation:run', args)
      const model = context.readyModel('evaluate an edit')
      const evaluate = runtime.evaluateEdit?.bind(runtime)
      if (evaluate === undefined) throw unsupported('evaluate edits')
      const stored = store.get(request.editId)
      checkFingerprint(
        await context.fingerprintOf(model),
        stored.edit.model,
        stored.path ?? `The edit ${stored.edit.id}`,
      )
      const dataset = existingFile(request.dataset, 'a multiple-choice file', 'dataset')
      const strengths = strengthGrid(
        request.strengths ?? sweepStrengths(stored.strength.testedRange),
        'strengths',
      )
      const sideSets = request.sideEffects ? await sideSetsOf(dataset) : []
      const summary = store.summarize(stored, null)
      const { name, behaviour } = itemSetName(dataset)
      return jobs.start('evaluate', `${summary.label} on ${name}`, async ({ signal, progress }) => {
        const measured = await evaluate(model, {
          edit: stored.edit,
          dataset,
          sideSets,
          text: referenceTextFor(dataset, context.bundledDatasets),
          strengths,
          fluencyLimit: request.fluencyLimit,
          itemLimit: request.itemLimit,
          signal,
          onProgress: progress,
        })
        const created = new Date()
        progress(1, 'Saving the run…')
        const run = await saveRun(
          {
            id: runId(created, `${stored.edit.method}-${name}`),
            created: created.toISOString(),
            model: model.info.name,
            edit: {
              id: stored.edit.id,
              label: summary.label,
              method: stored.edit.method,
              layers: summary.layers,
            },
            dataset: { path: dataset, name, behaviour },
            ...measured,
          },
          context.runsDirectory,
        )
        // The saved edit file carries its latest evaluation in its manifest.
        stored.extras.evaluation = {
          run: run.id,
          dataset: name,
          chosenStrength: run.chosenStrength,
          testMc1: run.test.edited.mc1,
          baseMc1: run.test.base.mc1,
        }
        return run
      })
    },

    async 'evaluation:runs'(args) {
      parseRequestArgs('evaluation:runs', args)
      return listRuns(context.runsDirectory)
    },

    async 'edit:set-strength'(args) {
      const { id, strength } = parseRequestArgs('edit:set-strength', args)
      const stored = store.get(id)
      stored.strength = { ...stored.strength, default: strength }
      const model = context.currentModel()
      return store.summarize(stored, model === null ? null : await context.fingerprintOf(model))
    },
  }
}
