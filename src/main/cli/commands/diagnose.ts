import { basename } from 'node:path'
import type { LayerDiagnosticsReport } from '../../../shared/layer-diagnostics.ts'
import { readEditFile } from '../../core/edits/edit-file.ts'
import { fingerprintModel } from '../../core/edits/fingerprint.ts'
import { TillerError } from '../../core/errors.ts'
import type { ComparedEdit } from '../../core/fitting/edit-directions.ts'
import { defaultDiagnosisPairs, diagnoseLayers } from '../../core/fitting/layer-diagnosis.ts'
import { implementedMethodIds, methodById } from '../../core/methods/index.ts'
import { loadModel } from '../../core/runtime/model.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import type { Command } from '../index.ts'
import {
  invalidFlag,
  modelFlags,
  modelFolderFlag,
  numberFlag,
  parseCommandArgs,
  positiveIntegerFlag,
  providerFlag,
} from './arguments.ts'

const usage = `Usage: tiller diagnose [--model DIR] --dataset FILE.jsonl [--method METHOD] [--pairs N]
                       [--edit FILE [--strength S] [--compare FILE]...] [--json]

Per-layer diagnostics of a demonstration set, as the studio's Fit screen plots them: capture the method's hook
site at every decoder block for the first N training pairs and report, per layer, the held-out accuracy of a
mean-difference probe (fitted on the first half of the pairs, scored on the rest), the separation d′ of the two
sides along the mean difference, and the mean activation norm; then the recommended layer to fit at. With a
fitted edit, the pairs are captured again with the edit compiled in, the table adds the mean norm after the edit,
and the edit's directions are compared (cosine) with those of the --compare edits at the same layer and site.

Options:
  --dataset FILE       demonstrations (JSONL pairs {id, prompt, positive, negative} or labelled rows)
  --method METHOD      whose site and token positions to read (default the edit's method, else mean-diff):
                       ${implementedMethodIds.join(' | ')}
  --pairs N            training pairs read, the first in file order (default ${defaultDiagnosisPairs})
  --edit FILE          a fitted edit file (.safetensors) of this model, measured at --strength
  --strength S         the edit's strength (default its method's default; 0 = the base model)
  --compare FILE       another edit file of this model to compare directions with (repeatable)
  --model DIR          model folder (default: the embedded model)
${variantUsage(23)}
  --provider auto|cpu|cuda|dml
  --json               print the report as one JSON object`

/** The report as text: a header, the per-layer table with the recommended layer marked, and the reason. */
export function formatDiagnostics(report: LayerDiagnosticsReport): string {
  const edited = report.edited
  const lines = [
    `${report.dataset}: ${report.pairs} training pairs at ${report.site} (${report.selector}); ` +
      `probe scored on ${report.heldOutRows} held-out rows per side`,
    '',
    edited === undefined
      ? '| layer | probe accuracy | separation d′ | mean norm |'
      : '| layer | probe accuracy | separation d′ | mean norm | norm after edit |',
    edited === undefined ? '|---:|---:|---:|---:|' : '|---:|---:|---:|---:|---:|',
  ]
  for (const row of report.rows) {
    const mark = row.layer === report.recommendedLayer ? ' ←' : ''
    const after = edited === undefined ? '' : ` ${(row.editedMeanNorm ?? Number.NaN).toFixed(2)} |`
    lines.push(
      `| ${row.layer}${mark} | ${(100 * row.probeAccuracy).toFixed(1)} % | ${row.separation.toFixed(2)} | ${row.meanNorm.toFixed(2)} |${after}`,
    )
  }
  lines.push('', `recommended layer: ${report.recommendedLayer}. ${report.reason}`)
  if (edited !== undefined) lines.push('', ...formatEdited(edited))
  return lines.join('\n')
}

/** The edit's part: what was measured, and the cosines with the compared edits (or why there are none). */
function formatEdited(edited: NonNullable<LayerDiagnosticsReport['edited']>): string[] {
  const lines = [
    `edit ${edited.editId} (${edited.method}, layers ${edited.layers.join(', ')}) at strength ${edited.strength}`,
  ]
  if (edited.cosines.length === 0) {
    lines.push('no compared edit has a direction at these layers and sites')
    return lines
  }
  lines.push('', '| layer | site | other edit | compared | cosine |', '|---:|---|---|---|---:|')
  for (const cosine of edited.cosines) {
    const compared = cosine.own === cosine.other ? cosine.own : `${cosine.own} · ${cosine.other}`
    lines.push(
      `| ${cosine.layer} | ${cosine.site} | ${cosine.otherLabel} | ${compared} | ${cosine.cosine.toFixed(3)} |`,
    )
  }
  return lines
}

/** An edit file of the model at `folder` (its fingerprint checked), as the diagnosis compares it. */
async function comparedEdit(path: string, fingerprint: Awaited<ReturnType<typeof fingerprintModel>>) {
  const { edit } = await readEditFile(path, fingerprint)
  return { id: edit.id, label: basename(path), method: edit.method, edit } satisfies ComparedEdit
}

/** `tiller diagnose`: per-layer probe accuracy, separation and norms, and the recommended layer. */
export const diagnoseCommand: Command = {
  usage,
  async run(args) {
    const values = parseCommandArgs('diagnose', {
      args,
      options: {
        ...modelFlags,
        dataset: { type: 'string' },
        method: { type: 'string' },
        pairs: { type: 'string', default: String(defaultDiagnosisPairs) },
        edit: { type: 'string' },
        strength: { type: 'string' },
        compare: { type: 'string', multiple: true },
      },
    }).values
    if (values.dataset === undefined)
      throw invalidFlag('dataset', undefined, 'give the demonstration JSONL file')
    if (values.method !== undefined && !(implementedMethodIds as readonly string[]).includes(values.method)) {
      throw invalidFlag('method', values.method, `use ${implementedMethodIds.join(', ')}`)
    }
    if (values.edit === undefined) {
      for (const flag of ['strength', 'compare'] as const) {
        if (values[flag] !== undefined) {
          throw new TillerError(
            'invalid-argument',
            `--${flag} applies to --edit only; give the fitted edit file.`,
            {
              subject: `--${flag}`,
            },
          )
        }
      }
    }
    const maxPairs = positiveIntegerFlag('pairs', values.pairs)
    const folder = modelFolderFlag(values.model)
    const choice = variantChoice(folder, values.variant)
    // Edit files are read (and their fingerprints checked) before the model loads, so a wrong file fails at once.
    const fingerprint = values.edit === undefined ? undefined : await fingerprintModel(folder)
    const measured =
      values.edit === undefined || fingerprint === undefined
        ? undefined
        : await comparedEdit(values.edit, fingerprint)
    const compareWith =
      fingerprint === undefined
        ? []
        : await Promise.all((values.compare ?? []).map((path) => comparedEdit(path, fingerprint)))
    const editMethod =
      measured !== undefined && (implementedMethodIds as readonly string[]).includes(measured.method)
        ? measured.method
        : undefined
    const method = values.method ?? editMethod ?? 'mean-diff'
    const strength =
      measured === undefined
        ? undefined
        : numberFlag('strength', values.strength, {
            fallback: editMethod === undefined ? 1 : methodById(editMethod).strength.default,
          })
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const model = await loadModel(folder, {
      provider: providerFlag(values.provider),
      variant: choice.variant,
    })
    try {
      const report = await diagnoseLayers({
        model,
        data: values.dataset,
        method,
        maxPairs,
        ...(fingerprint === undefined ? {} : { fingerprint }),
        ...(measured === undefined || strength === undefined
          ? {}
          : { edit: { edit: measured.edit, strength }, compareWith }),
      })
      process.stdout.write((values.json ? JSON.stringify(report) : formatDiagnostics(report)) + '\n')
      return 0
    } finally {
      await model.dispose()
    }
  },
}
