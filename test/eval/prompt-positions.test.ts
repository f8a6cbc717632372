import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PositionPolicy } from '../../src/shared/edit.ts'
import { loadSteeredModel, type SteeredModel } from '../../src/main/core/edits/steered-generation.ts'
import { rowChoiceScorer, type EncodedChoiceItem } from '../../src/main/core/eval/choice-scorer.ts'
import { fluencyAtStrengths, type EncodedText } from '../../src/main/core/eval/fluency.ts'
import { steeredChoiceScorer, steeredForward } from '../../src/main/core/eval/steered-scoring.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { editOf, maxDifference, randomVector } from '../compiler/support.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

// Where prompt-relative edits act when whole rows are teacher-forced: at the prompt's end, not the row's.
const texts: EncodedText[] = [
  { text: 'first', tokens: [1, 72, 101, 108, 108, 111] },
  { text: 'second', tokens: [1, 87, 104, 97, 116] },
]
const items: EncodedChoiceItem[] = [
  { id: 'a', prompt: [1, 72, 101, 108], choices: [[108, 111], [33], [44, 32, 119]], correct: [0] },
  { id: 'b', prompt: [1, 87, 104], choices: [[89, 101, 115], [78]], correct: [1] },
]

describe('position policies in teacher-forced rows (tiny builder model)', () => {
  let folder: string
  const steered: SteeredModel[] = []

  function edited(positions: PositionPolicy) {
    return editOf(positions.kind, [
      {
        layer: 0,
        site: 'resid_post',
        positions,
        op: { kind: 'add', vector: randomVector(32, 4).map((value) => value * 4) },
      },
    ])
  }

  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'builder', seed: 8 })
    const policies = [
      { kind: 'lastPromptToken' },
      { kind: 'prompt' },
      { kind: 'promptPrefix', count: 3 },
    ] as const
    for (const positions of policies)
      steered.push(await loadSteeredModel(folder, [edited(positions)], { provider: 'cpu' }))
  })
  afterAll(async () => {
    for (const model of steered) await model.model.dispose()
    rmSync(dirname(folder), { recursive: true, force: true })
  })

  it('reads a reference text’s first half as its prompt: a last-prompt-token edit acts at the middle', async () => {
    const [lastPrompt, prompt, firstHalf] = steered as [SteeredModel, SteeredModel, SteeredModel]
    const fromLastPrompt = await fluencyAtStrengths(steeredForward(lastPrompt), texts, [0, 1])
    // At the row's last token the edit would change no scored prediction and the divergence would be exactly 0.
    expect(fromLastPrompt[1]!.klFromBase).toBeGreaterThan(1e-3)
    // The prompt is the first ⌈n/2⌉ tokens (3 of 6 and 3 of 5): `prompt` covers what a 3-token prefix covers.
    const fromPrompt = await fluencyAtStrengths(steeredForward(prompt), texts, [0, 1])
    const fromFirstHalf = await fluencyAtStrengths(steeredForward(firstHalf), texts, [0, 1])
    expect(fromPrompt[1]!.klFromBase).toBeGreaterThan(1e-3)
    expect(fromPrompt.map((point) => [point.klFromBase, point.fluency.perplexity])).toEqual(
      fromFirstHalf.map((point) => [point.klFromBase, point.fluency.perplexity]),
    )
  })

  it('scores whole prompt + choice rows like the cached scorer, which edits the prompt’s last token', async () => {
    const model = steered[0]!
    const rows = await rowChoiceScorer(steeredForward(model))(items, [0, 1.5])
    const cached = await steeredChoiceScorer(model)(items, [0, 1.5])
    expect(maxDifference(rows.flat(2), cached.flat(2))).toBeLessThan(1e-4)
    // The edit matters at this strength: the edited scores differ from strength 0's.
    const [item] = rows
    expect(maxDifference(item![0]!, item![1]!)).toBeGreaterThan(1e-2)
  })

  it('refuses prompt lengths that do not fit the rows', async () => {
    const model = steered[0]!.model
    for (const promptLengths of [[1], [0, 2], [2, 9]]) {
      await expect(
        forwardBatch(model, [texts[0]!.tokens, texts[1]!.tokens], { fetch: ['logits'], promptLengths }),
      ).rejects.toThrow(/do not fit rows of 6, 5 tokens/)
    }
  })
})
