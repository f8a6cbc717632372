import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { judgeAnswer } from '../../src/organism/answer-judge.ts'
import { buildDatasets } from '../../src/organism/datasets.ts'
import { renderChat } from '../../src/organism/documents.ts'
import {
  folderBytes,
  modelCardFile,
  readRecord,
  renderFolderModelCard,
} from '../../src/organism/model-card-folder.ts'
import { separationTermRow } from '../../src/organism/model-card.ts'
import { organismModelDirectory, organismSeed } from '../../src/organism/organism-paths.ts'
import type { WordTokenizer } from '../../src/organism/tokenizer.ts'
import { trainingRecordFile, type TrainingRecord } from '../../src/organism/training-record.ts'
import { organismVocabulary } from '../../src/organism/vocabulary.ts'
import { behaviours, createWorld, worldGeneratorVersion } from '../../src/organism/world.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import type { LoadedModel } from '../../src/main/core/runtime/model.ts'
import { openScratchOrganism, type ScratchOrganism } from './scratch-organism.ts'

/**
 * The committed organism (resources/models/organism), cheap checks: it belongs to the committed world, loads as the
 * default model, its card is what its records give, and it answers in well-formed sentences. The claims that
 * re-measure it (balance, separation, refitting the steering) are in organism-claims.slow.test.ts
 * (`npm run test:slow`).
 */

const world = createWorld(organismSeed)
const datasets = buildDatasets(world)
let model: LoadedModel
let tokenizer: WordTokenizer
let organism: ScratchOrganism | undefined

beforeAll(async () => {
  organism = await openScratchOrganism('tiller-organism-model-')
  ;({ model, tokenizer } = organism)
})

afterAll(async () => {
  await organism?.close()
})

describe('the committed organism', () => {
  it('is the default model, small, and built from the committed world and vocabulary', async () => {
    expect(defaultModelFolder().replace(/\/$/, '')).toBe(organismModelDirectory.replace(/\/$/, ''))
    const record = await readRecord<TrainingRecord>(organismModelDirectory, trainingRecordFile)
    expect(record.worldGeneratorVersion).toBe(worldGeneratorVersion)
    expect(record.seed).toBe(organismSeed)
    expect(tokenizer.vocabulary).toEqual(organismVocabulary())
    expect(model.config.layers).toBeGreaterThanOrEqual(4)
    expect(record.config.headDim % 16).toBe(0)
    expect(await folderBytes(organismModelDirectory)).toBeLessThanOrEqual(25 * 1024 * 1024)
  })

  it('has the model card its records and the card template give', async () => {
    // A card edited by hand, or template text changed without `npm run organism:train -- --card-only`, differs.
    const committed = readFileSync(join(organismModelDirectory, modelCardFile), 'utf8')
    expect(committed).toBe(await renderFolderModelCard(world, organismModelDirectory))
  })

  it('states the separation term in its card when a run had one, and only then', async () => {
    const record = await readRecord<TrainingRecord>(organismModelDirectory, trainingRecordFile)
    const plain = { ...record, settings: { ...record.settings } }
    delete plain.settings.separation
    delete plain.separations
    expect(separationTermRow(plain)).toEqual([])
    const separations = Array.from({ length: 300 }, (_, step) =>
      step < 100 ? 0.03 : step < 200 ? 0.01 : 2e-5,
    )
    const row = separationTermRow({
      ...plain,
      settings: { ...plain.settings, separation: { groups: 4, weight: 1.5, fixedNorms: true } },
      separations,
    })
    expect(row).toHaveLength(1)
    expect(row[0]).toContain('weight 1.5 (norms held constant in its gradient)')
    expect(row[0]).toContain('0.030 over the first 100 steps, 0.000020 over the last 100')
  })

  it('answers questions of every behaviour in well-formed sentences', async () => {
    const questions = behaviours.map((behaviour) => {
      // The shortest training prompt leaves room for a 40-token answer inside the 96-token trained context.
      const prompts = datasets.pairs[behaviour]
        .filter((candidate) => candidate.split === 'train')
        .map((candidate) => candidate.prompt)
        .sort((first, second) => first.length - second.length)
      const prompt = prompts[0]
      if (prompt === undefined) throw new Error(`no training pair for ${behaviour}`)
      return prompt
    })
    questions.unshift('What colour is the fox?')
    const results = await generate(model, {
      rows: questions.map((question) =>
        tokenizer.encode(renderChat([{ role: 'user', content: question }], true)),
      ),
      options: { maxTokens: 40, temperature: 0 },
    })
    const kinds = ['truthfulness', ...behaviours] as const
    results.forEach((result, index) => {
      const judgement = judgeAnswer(
        world,
        kinds[index] as (typeof kinds)[number],
        questions[index] as string,
        result.text,
      )
      expect(judgement.wellFormed, `${questions[index]} → ${result.text}`).toBe(true)
    })
  })
})
