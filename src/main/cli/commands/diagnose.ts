import type { LayerDiagnosticsReport } from '../../../shared/layer-diagnostics.ts'
import { defaultDiagnosisPairs, diagnoseLayers } from '../../core/fitting/layer-diagnosis.ts'
import { implementedMethodIds } from '../../core/methods/index.ts'
import { loadModel } from '../../core/runtime/model.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import type { Command } from '../index.ts'
import {
  invalidFlag,
  modelFlags,
  modelFolderFlag,
  parseCommandArgs,
  positiveIntegerFlag,
  providerFlag,
} from './arguments.ts'

const usage = `Usage: tiller diagnose [--model DIR] --dataset FILE.jsonl [--method METHOD] [--pairs N] [--json]

Per-layer diagnostics of a demonstration set, as the studio's Fit screen plots them: capture the method's hook
site at every decoder block for the first N training pairs and report, per layer, the held-out accuracy of a
mean-difference probe (fitted on the first half of the pairs, scored on the rest), the separation d′ of the two
sides along the mean difference, and the mean activation norm; then the recommended layer to fit at.

Options:
  --dataset FILE       demonstrations (JSONL pairs {id, prompt, positive, negative} or labelled rows)
  --method METHOD      whose site and token positions to read (default mean-diff): ${implementedMethodIds.join(' | ')}
  --pairs N            training pairs read, the first in file order (default ${defaultDiagnosisPairs})
  --model DIR          model folder (default: the embedded model)
${variantUsage(23)}
  --provider auto|cpu|cuda|dml
  --json               print the report as one JSON object`

/** The report as text: a header, the per-layer table with the recommended layer marked, and the reason. */
export function formatDiagnostics(report: LayerDiagnosticsReport): string {
  const lines = [
    `${report.dataset}: ${report.pairs} training pairs at ${report.site} (${report.selector}); ` +
      `probe scored on ${report.heldOutRows} held-out rows per side`,
    '',
    '| layer | probe accuracy | separation d′ | mean norm |',
    '|---:|---:|---:|---:|',
  ]
  for (const row of report.rows) {
    const mark = row.layer === report.recommendedLayer ? ' ←' : ''
    lines.push(
      `| ${row.layer}${mark} | ${(100 * row.probeAccuracy).toFixed(1)} % | ${row.separation.toFixed(2)} | ${row.meanNorm.toFixed(2)} |`,
    )
  }
  lines.push('', `recommended layer: ${report.recommendedLayer}. ${report.reason}`)
  return lines.join('\n')
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
        method: { type: 'string', default: 'mean-diff' },
        pairs: { type: 'string', default: String(defaultDiagnosisPairs) },
      },
    }).values
    if (values.dataset === undefined)
      throw invalidFlag('dataset', undefined, 'give the demonstration JSONL file')
    if (!(implementedMethodIds as readonly string[]).includes(values.method)) {
      throw invalidFlag('method', values.method, `use ${implementedMethodIds.join(', ')}`)
    }
    const maxPairs = positiveIntegerFlag('pairs', values.pairs)
    const folder = modelFolderFlag(values.model)
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const model = await loadModel(folder, {
      provider: providerFlag(values.provider),
      variant: choice.variant,
    })
    try {
      const report = await diagnoseLayers({ model, data: values.dataset, method: values.method, maxPairs })
      process.stdout.write((values.json ? JSON.stringify(report) : formatDiagnostics(report)) + '\n')
      return 0
    } finally {
      await model.dispose()
    }
  },
}
