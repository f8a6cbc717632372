import { join } from 'node:path'
import { splits, type Split } from '../../core/data/schema.ts'
import { bundledDatasetsDirectory } from '../../core/engine/dataset-catalog.ts'
import type { Estimate } from '../../core/eval/intervals.ts'
import { evaluateChoiceSet, type SetEvaluation } from '../../core/eval/evaluate-set.ts'
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import type { Command } from '../index.ts'
import { invalidFlag, modelFlags, parseCommandArgs, positiveIntegerFlag, providerFlag } from './arguments.ts'

const usage = `Usage: tiller eval --data ITEMS.jsonl [--edit E.safetensors --strengths 0,1,2] [--split validation|test] [--text FILE] [--json]

Score multiple-choice items (MC1, MC2, MC3 with 95 % intervals and chance levels; METHODS §9.1), at every
strength as rows of one batch through the steered graph, with the shift table against strength 0 and fluency on
reference text (perplexity, bits per byte, KL(base ‖ edited) of next-token distributions).

Options:
  --data FILE          multiple-choice JSONL {id, question, choices, correct, split?}
  --edit FILE          an edit fitted on this model (repeat to compose)
  --strengths LIST     comma-separated strengths (default 0, or 0,1 with an edit; 0 is always measured, as the base)
  --split NAME         only items (and reference texts) of this split: train, validation or test
  --text FILE          reference text: .jsonl rows {text, split?} or plain text (paragraphs split on blank lines);
                       default: the embedded organism's neutral texts when --model is not given
  --model DIR          model folder (default: the embedded model)
${variantUsage(23)}
  --system TEXT        system prompt for the chat template
  --batch-size N       rows per forward pass for reference text (default 32)
  --seed N             bootstrap seed (default 0)
  --provider auto|cpu|cuda|dml
  --json               print the whole result (per-item scores included) as one JSON object`

function parse(args: string[]) {
  return parseCommandArgs('eval', {
    args,
    options: {
      ...modelFlags,
      data: { type: 'string' },
      edit: { type: 'string', multiple: true },
      strengths: { type: 'string' },
      split: { type: 'string' },
      text: { type: 'string' },
      system: { type: 'string' },
      'batch-size': { type: 'string', default: '32' },
      seed: { type: 'string', default: '0' },
    },
  }).values
}

function splitFlag(value: string | undefined): Split | undefined {
  if (value === undefined) return undefined
  const split = splits.find((name) => name === value)
  if (split === undefined) throw invalidFlag('split', value, `use ${splits.join(', ')}`)
  return split
}

/** "0,1,2" → numbers; entries that are not numbers stay NaN so the grid check names them. */
function strengthList(value: string): number[] {
  return value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part.trim())))
}

const percent = (value: number): string => (Number.isFinite(value) ? `${(100 * value).toFixed(1)}` : '–')
const interval = (estimate: Estimate): string =>
  `${percent(estimate.value)} [${percent(estimate.low)}, ${percent(estimate.high)}]`
const number = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)

/** The result as text: a header, then one table row per strength. */
export function formatEvaluation(result: SetEvaluation): string {
  const first = result.points[0]
  const lines = [
    `${result.data}${result.split === undefined ? '' : ` (split ${result.split})`}: ${result.items} items` +
      (result.edits.length === 0 ? '' : `, edit ${result.edits.join(' + ')}`),
  ]
  if (first !== undefined) {
    const chance = first.choices.chance
    lines.push(
      `chance: MC1 ${percent(chance.mc1)} %, MC2 ${percent(chance.mc2)} %, MC3 ${percent(chance.mc3)} % ` +
        `(items with ${chance.choiceCounts.join(' or ')} choices)`,
    )
  }
  lines.push(
    result.texts === 0
      ? 'reference text: none (pass --text FILE)'
      : `reference text: ${result.text} (${result.texts} texts)`,
    'MC1/MC2/MC3 in % with 95 % intervals (Wilson for MC1, bootstrap for MC2/MC3); shifts in % of items vs strength 0',
    '',
    '| strength | MC1 | MC2 | MC3 | F→T | T→F | stays T | stays F | perplexity | bits/byte | KL (nats) |',
    '|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  )
  for (const point of result.points) {
    const { shift } = point
    lines.push(
      `| ${point.strength} | ${interval(point.choices.mc1)} | ${interval(point.choices.mc2)} | ${interval(point.choices.mc3)} ` +
        `| ${percent(shift.falseToTrue)} | ${percent(shift.trueToFalse)} | ${percent(shift.remainsTrue)} | ${percent(shift.remainsFalse)} ` +
        `| ${number(point.fluency?.perplexity, 3)} | ${number(point.fluency?.bitsPerByte, 4)} | ${number(point.klFromBase, 5)} |`,
    )
  }
  return lines.join('\n')
}

/** `tiller eval`: MC metrics, shifts and fluency per strength. */
export const evalCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    if (values.data === undefined) throw invalidFlag('data', undefined, 'give the multiple-choice JSONL file')
    const seed = Number(values.seed)
    if (!Number.isInteger(seed)) throw invalidFlag('seed', values.seed, 'give a whole number')
    const folder = values.model ?? defaultModelFolder()
    // The embedded organism's neutral texts are its fluency reference unless another text is given.
    const datasets = values.model === undefined ? bundledDatasetsDirectory() : null
    const text = values.text ?? (datasets === null ? undefined : join(datasets, 'neutral.jsonl'))
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const result = await evaluateChoiceSet({
      folder,
      variant: choice.variant,
      provider: providerFlag(values.provider),
      data: values.data,
      edits: values.edit ?? [],
      strengths: strengthList(values.strengths ?? (values.edit === undefined ? '0' : '0,1')),
      split: splitFlag(values.split),
      text,
      render: values.system === undefined ? {} : { systemPrompt: values.system },
      batchRows: positiveIntegerFlag('batch-size', values['batch-size']),
      seed,
    })
    process.stdout.write((values.json ? JSON.stringify(result) : formatEvaluation(result)) + '\n')
    return 0
  },
}
