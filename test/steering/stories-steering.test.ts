import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import { hashDemonstrations } from '../../src/main/core/data/hash.ts'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import {
  compareStrengths,
  loadSteeredModel,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { fitEdit, methodById } from '../../src/main/core/methods/index.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { runTiller } from '../helpers/cli.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'

/**
 * Steering a real model end to end: stories260K (imported from GGUF), a 16-pair happy/sad story-opening set,
 * mean difference at resid_post of the middle layer, then `compare`: strength 0 reproduces run.c's golden greedy
 * text exactly, and positive/negative strengths move sampled stories toward each side's vocabulary.
 */

const gguf = sharedFixture('stories260K-gguf/stories260K.gguf')
const golden = sharedFixture('stories260K/GOLDEN.json')
const pairs = join(import.meta.dirname, 'fixtures', 'happy-sad.jsonl')
const happyWords = /\b(happy|smiled|smile|laughed|laugh|fun|played|glad|excited|joy)\b/g
const sadWords = /\b(sad|cried|cry|crying|scared|hurt|alone|angry|upset|tears)\b/g

interface GoldenCase {
  prompt: string
  prompt_tokens: number[]
  tokens: number[]
}

describe('steering stories260K with a happy/sad mean difference', () => {
  let folder = ''
  let edit: Edit
  let steered: SteeredModel
  let onceUponATime: GoldenCase

  beforeAll(async () => {
    for (const path of [gguf, golden]) if (!existsSync(path)) throw new Error(`Fixture ${path} is missing.`)
    onceUponATime = (JSON.parse(readFileSync(golden, 'utf8')) as { cases: GoldenCase[] }).cases.find(
      (entry) => entry.prompt === 'Once upon a time',
    ) as GoldenCase
    folder = join(mkdtempSync(join(tmpdir(), 'tiller-stories-')), 'stories260K')
    const imported = await importGguf(gguf)
    await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, { family: 'builder' })
    const set = await readDemonstrationFile(pairs)
    const rendered = renderPairs(contrastPairs(set), await loadRenderTokenizer(folder), pairs, {
      contrast: 'completion',
    })
    const model = await loadModel(folder, { provider: 'cpu' })
    const layer = 2
    const activations = await captureActivations(model, rendered.examples, {
      site: 'resid_post',
      selector: 'completionMean',
      layers: [layer],
      dataHash: hashDemonstrations(set).hash,
      fingerprint: await fingerprintModel(folder),
    })
    await model.dispose()
    edit = (
      await fitEdit(methodById('mean-diff'), activations, { selector: 'completionMean', layers: [layer] })
    ).edit
    steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
  })
  afterAll(async () => {
    await steered?.model.dispose()
  })

  it('`tiller compare --json` at strength 0 reproduces the golden greedy tokens; strengths ±2 change the story', async () => {
    const editPath = join(folder, 'happy-sad.safetensors')
    await writeEditFile(editPath, edit)
    const generated = onceUponATime.tokens.length - onceUponATime.prompt_tokens.length
    const { code, stdout: output } = await runTiller([
      'compare',
      '--model',
      folder,
      '--edit',
      editPath,
      '--prompt',
      onceUponATime.prompt,
      '--strengths',
      '-2,0,2',
      '--temperature',
      '0',
      '--max-tokens',
      String(generated),
      '--provider',
      'cpu',
      '--json',
    ])
    expect(code).toBe(0)
    const rows = JSON.parse(output) as Array<{ strength: number; text: string; tokens: number[] }>
    expect(rows.map((row) => row.strength)).toEqual([-2, 0, 2])
    expect([...onceUponATime.prompt_tokens, ...(rows[1]?.tokens ?? [])]).toEqual(onceUponATime.tokens)
    expect(rows[0]?.tokens).not.toEqual(rows[1]?.tokens)
    expect(rows[2]?.tokens).not.toEqual(rows[1]?.tokens)
  })

  it('positive and negative strengths move sampled stories toward opposite vocabularies (30 seeds)', async () => {
    const prompt = steered.model.tokenizer.encode(onceUponATime.prompt)
    const strengths = [-3, 0, 3]
    const counts = strengths.map(() => ({ happy: 0, sad: 0 }))
    for (let seed = 0; seed < 30; seed++) {
      const rows = await compareStrengths(steered, prompt, strengths, {
        maxTokens: 60,
        temperature: 0.8,
        seed,
      })
      rows.forEach((row, index) => {
        const count = counts[index] as { happy: number; sad: number }
        count.happy += (row.text.match(happyWords) ?? []).length
        count.sad += (row.text.match(sadWords) ?? []).length
      })
    }
    const [negative, base, positive] = counts as [(typeof counts)[0], (typeof counts)[0], (typeof counts)[0]]
    expect(positive.happy).toBeGreaterThan(base.happy)
    expect(positive.happy).toBeGreaterThan(negative.happy)
    expect(negative.sad).toBeGreaterThan(base.sad)
    expect(negative.sad).toBeGreaterThan(positive.sad)
    // Net mood (happy − sad words) rises with the strength.
    expect(positive.happy - positive.sad).toBeGreaterThan(base.happy - base.sad)
    expect(base.happy - base.sad).toBeGreaterThan(negative.happy - negative.sad)
  })
})
