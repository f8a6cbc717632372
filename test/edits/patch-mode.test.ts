import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Edit, Intervention } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { controlVectorProblem } from '../../src/main/core/edits/control-vector.ts'
import { decodeEditFile, encodeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { exportSteeredModel } from '../../src/main/core/edits/steered-export.ts'
import {
  generateSteered,
  steeringInputs,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import type { EncodedChoiceItem } from '../../src/main/core/eval/choice-scorer.ts'
import {
  plainChoiceScorer,
  steeredChoiceScorer,
  steeredForward,
} from '../../src/main/core/eval/steered-scoring.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { editOf, maxDifference } from '../compiler/support.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * SADI's patch mode through the paths that run it (METHODS.md §6.3): generation (prefill patched, decode steps
 * past it), teacher-forced forwards and the cached multiple-choice scorer each record the clean values with a
 * strength-0 pass first. With only the last layer masked, patch and live mode agree exactly on every path; the
 * paths that cannot record (standalone ONNX export, control vectors, bare steering inputs) refuse in one line.
 */

const site = 'mlp_out'
const layerCount = 3
const prompts = [
  [5, 6, 7, 8, 9, 10],
  [7, 8, 9, 11],
]

function intervention(layer: number, op: Intervention['op']): Intervention {
  return { layer, site, positions: { kind: 'lastPromptToken' }, op }
}

describe('SADI patch mode at run time (tiny optimum model)', () => {
  let folder = ''
  let base: LoadedModel
  let patch: SteeredModel
  let live: SteeredModel
  let patchEdit: Edit
  const loaded: LoadedModel[] = []

  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'optimum', config: { numLayers: layerCount } })
    const width = (await locateHookSites(folder)).widths[site]
    const factors = Float32Array.from({ length: width }, (_, index) => (index % 4 === 1 ? 5 : 0))
    const none = new Float32Array(width)
    patchEdit = editOf(
      'patch',
      [0, 1, 2].map((layer) =>
        intervention(layer, { kind: 'patch', factors: layer === layerCount - 1 ? factors : none }),
      ),
    )
    patchEdit.model = await fingerprintModel(folder)
    const liveEdit = editOf('live', [intervention(layerCount - 1, { kind: 'scale', factors })])
    base = await loadModel(folder, { provider: 'cpu' })
    const load = async (edit: Edit): Promise<SteeredModel> => {
      const compiled = await compileGraph(folder, { edits: [edit] })
      const model = await loadModel(folder, {
        provider: 'cpu',
        graphFile: compiled.graphFile,
        tokenizer: base.tokenizer,
      })
      loaded.push(model)
      return { model, compiled }
    }
    patch = await load(patchEdit)
    live = await load(liveEdit)
  })
  afterAll(async () => {
    await base.dispose()
    for (const model of loaded) await model.dispose()
  })

  it('generates: strength-0 rows are the base model, patched rows equal live mode token for token', async () => {
    const options = { maxTokens: 6, temperature: 0 }
    const request = { rows: [...prompts, ...prompts], strengths: [0, 0, 1, 1], options }
    const baseRows = await generate(base, { rows: request.rows, options })
    const patched = await generateSteered(patch, request)
    const liveRows = await generateSteered(live, request)
    expect(patched.map((row) => row.generated)).toEqual(liveRows.map((row) => row.generated))
    expect(patched.slice(0, 2).map((row) => row.generated)).toEqual(
      baseRows.slice(0, 2).map((row) => row.generated),
    )
    expect(patched[2]?.generated.length).toBe(6)
  })

  it('scores teacher-forced rows and multiple-choice items exactly as live mode; strength 0 as the base', async () => {
    const rows = prompts.map((prompt) => [...prompt, 12, 13])
    const patchLogits = await steeredForward(patch)(rows, [1, 1], [6, 4])
    const liveLogits = await steeredForward(live)(rows, [1, 1], [6, 4])
    expect(Array.from(patchLogits.logits)).toEqual(Array.from(liveLogits.logits))
    const items: EncodedChoiceItem[] = prompts.map((prompt, index) => ({
      id: `item-${index}`,
      prompt,
      choices: [[12, 13], [14], [15, 16, 17]],
      correct: [0],
    }))
    const strengths = [0, 1, 2]
    const patchScores = await steeredChoiceScorer(patch)(items, strengths)
    const liveScores = await steeredChoiceScorer(live)(items, strengths)
    const baseScores = await plainChoiceScorer(base)(items, [0])
    expect(patchScores).toEqual(liveScores)
    patchScores.forEach((item, index) => expect(item[0]).toEqual(baseScores[index]?.[0]))
    expect(maxDifference(patchScores.flat(2), liveScores.flat(2))).toBe(0)
    expect(Math.abs((patchScores[0]?.[2]?.[0] ?? 0) - (patchScores[0]?.[0]?.[0] ?? 0))).toBeGreaterThan(1e-4)
  })

  it('refuses where the clean values cannot be recorded, naming mode=patch', async () => {
    const bare = steeringInputs(patch.compiled, [1])
    const step = {
      step: 0,
      batch: 1,
      sequence: 4,
      pastLength: 0,
      leftPadding: [0],
      promptLengths: [4],
      isPrefill: true,
    }
    expect(() => bare(step)).toThrow(/mode=patch/)
    // A decode step past the last prompt token patches nothing and needs no values.
    expect(() => bare({ ...step, step: 1, sequence: 1, pastLength: 4, isPrefill: false })).not.toThrow()
    expect(controlVectorProblem(patchEdit)).toMatch(/mode=patch/)
    const bytes = Buffer.concat(encodeEditFile(patchEdit))
    const file = decodeEditFile(bytes, 'patch.safetensors')
    expect(file.edit.interventions.map((entry) => entry.op)).toEqual(
      patchEdit.interventions.map((entry) => entry.op),
    )
    const out = join(mkdtempSync(join(tmpdir(), 'tiller-patch-export-')), 'out')
    const exported = exportSteeredModel(folder, file, out)
    await expect(exported).rejects.toBeInstanceOf(TillerError)
    await expect(exported).rejects.toThrow(/mode=patch.*mode=live/)
    const spread = editOf('spread', [
      { ...intervention(0, patchEdit.interventions[0]!.op), positions: { kind: 'all' } },
    ])
    await expect(compileGraph(folder, { edits: [spread] })).rejects.toThrow(/lastPromptToken/)
  })
})
