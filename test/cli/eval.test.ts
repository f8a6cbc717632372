import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import type { SetEvaluation } from '../../src/main/core/eval/evaluate-set.ts'
import { runtimeForward } from '../../src/main/core/eval/forward-logits.ts'
import { evaluateMultipleChoice } from '../../src/main/core/eval/multiple-choice.ts'
import { perplexity } from '../../src/main/core/eval/perplexity.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import type { MultipleChoiceItem } from '../../src/organism/datasets.ts'
import { encodeChoiceItems } from '../../src/organism/evaluation.ts'
import { readFolderTokenizer } from '../../src/organism/folder-tokenizer.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { runTiller } from '../helpers/cli.ts'

/** `tiller eval` on the embedded organism with a few items, checked against the organism's own scoring path. */

const folder = defaultModelFolder()
let scratch: string
let items: string
let texts: string
const neutral = [
  'The girl looked at the bench.',
  'There was a carpet near the museum. Everyone liked the carpet.',
]

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-eval-'))
  const lines = (await readFile('resources/datasets/fairness.mc.jsonl', 'utf8')).trim().split('\n')
  items = join(scratch, 'items.jsonl')
  writeFileSync(items, lines.slice(0, 8).join('\n') + '\n')
  texts = join(scratch, 'texts.txt')
  writeFileSync(texts, neutral.join('\n\n') + '\n')
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function write(name: string, rows: object[]): string {
  const path = join(scratch, name)
  writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + '\n')
  return path
}

describe('tiller eval', () => {
  it('scores items and text as the reference paths do, with intervals and chance for three-choice items', async () => {
    const run = await runTiller(['eval', '--data', items, '--text', texts, '--json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout) as SetEvaluation
    const point = result.points[0]
    expect(result.points).toHaveLength(1)
    expect(point?.choices.chance.mc1).toBeCloseTo(1 / 3, 12)
    expect(point?.choices.chance.choiceCounts).toEqual([3])

    const model = await loadModel(folder, { provider: 'cpu' })
    try {
      const tokenizer = await readFolderTokenizer(folder)
      const rows = (await readFile(items, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as MultipleChoiceItem)
      const reference = await evaluateMultipleChoice(
        runtimeForward(model),
        encodeChoiceItems(tokenizer, rows),
      )
      reference.items.forEach((item, index) => {
        const scored = point?.choices.items[index]
        expect(scored?.id).toBe(item.id)
        expect(scored?.mc1).toBe(item.mc1)
        item.scores.forEach((score, choice) => expect(scored?.scores[choice]).toBeCloseTo(score, 3))
      })
      expect(point?.choices.mc1.value).toBeCloseTo(reference.mc1Accuracy, 12)
      const encoded = neutral.map((text) => [model.config.bosTokenId as number, ...tokenizer.encode(text)])
      const fluency = await perplexity(runtimeForward(model), encoded)
      expect(point?.fluency?.perplexity).toBeCloseTo(fluency.perplexity, 3)
      expect(point?.fluency?.bytes).toBe(neutral.join('').length)
    } finally {
      await model.dispose()
    }
  })

  it('prints a table row per strength', async () => {
    const run = await runTiller(['eval', '--data', items, '--text', texts])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('chance: MC1 33.3 %')
    expect(run.stdout).toMatch(/\n\| 0 \| \d+\.\d \[\d+\.\d, \d+\.\d\] \|/)
  })

  it('measures fluency on the bundled neutral texts when neither --model nor --text is given', async () => {
    const bundled = await runTiller(['eval', '--data', items, '--json'])
    expect(bundled.stderr).toBe('')
    expect(bundled.code).toBe(0)
    const explicit = await runTiller([
      'eval',
      '--data',
      items,
      '--text',
      'resources/datasets/neutral.jsonl',
      '--json',
    ])
    expect(explicit.code).toBe(0)
    const fluency = (JSON.parse(bundled.stdout) as SetEvaluation).points[0]?.fluency
    expect(fluency?.bytes).toBeGreaterThan(0)
    expect(fluency).toEqual((JSON.parse(explicit.stdout) as SetEvaluation).points[0]?.fluency)
  })

  it('refuses bad input with one line naming the item or field', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--data', write('one.jsonl', [{ id: 'solo', question: 'Q?', choices: ['x'], correct: [0] }])],
        /one\.jsonl:1: item solo field "choices"/,
      ],
      [
        [
          '--data',
          write('dup.jsonl', [{ id: 'twice', question: 'Q?', choices: ['x', 'y', 'x'], correct: [1] }]),
        ],
        /item twice field "choices": choices 0 and 2 are the same text/,
      ],
      [
        [
          '--data',
          write('long.jsonl', [
            { id: 'huge', question: Array(300).fill('the owl').join(' '), choices: ['a', 'b'], correct: [0] },
          ]),
        ],
        /item huge field "question": .* the model's context holds/,
      ],
      [['--data', items, '--strengths', '0,NaN'], /--strengths entry 2 is NaN/],
      [['--data', items, '--split', 'dev'], /--split is "dev"/],
      [['--data', items, '--split', 'train'], /no items with split "train"/],
    ]
    for (const [args, message] of cases) {
      const run = await runTiller(['eval', ...args])
      expect(run.code, args.join(' ')).toBe(1)
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(run.stderr).toMatch(message)
    }
  })

  it('refuses an edit fitted on another model, naming the differing field', async () => {
    const fingerprint = await fingerprintModel(folder)
    const edit = {
      ...editOf('foreign', [
        {
          layer: 0,
          site: 'resid_post' as const,
          positions: { kind: 'all' as const },
          op: { kind: 'add' as const, vector: randomVector(fingerprint.hiddenSize, 3) },
        },
      ]),
      model: { ...fingerprint, weightsHash: 'b'.repeat(64) },
    }
    const path = join(scratch, 'foreign.safetensors')
    await writeEditFile(path, edit)
    const run = await runTiller(['eval', '--data', items, '--edit', path, '--strengths', '0,1'])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/weights/i)
  })
})
