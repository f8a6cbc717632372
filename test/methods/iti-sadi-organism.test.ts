import { readFileSync } from 'node:fs'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Edit } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { renderChat } from '../../src/organism/documents.ts'
import { readFolderTokenizer } from '../../src/organism/folder-tokenizer.ts'
import { datasetsDirectory, organismModelDirectory } from '../../src/organism/organism-paths.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'

/**
 * ITI and SADI end to end on the organism: fit on a few truthfulness pairs through the real capture path, compile,
 * and run one prompt at strengths 0 and 1. Strength 0 must give the base logits bit for bit; at strength 1 the
 * edited site, read before and after the edit, must change exactly as the method says and only where it says.
 */

let scratch = ''
let base: LoadedModel
let prompt: number[] = []
let baseLogits: Float32Array

beforeAll(async () => {
  // Capture caches and compiled graphs are written into the folder: a scratch copy keeps the committed one clean.
  scratch = await mkdtemp(join(tmpdir(), 'tiller-iti-sadi-'))
  await cp(organismModelDirectory, join(scratch, 'model'), { recursive: true })
  const lines = readFileSync(join(datasetsDirectory, 'truthfulness.pairs.jsonl'), 'utf8')
    .split('\n')
    .slice(0, 10)
  await writeFile(join(scratch, 'pairs.jsonl'), `${lines.join('\n')}\n`)
  base = await loadModel(join(scratch, 'model'), { provider: 'cpu' })
  const tokenizer = await readFolderTokenizer(join(scratch, 'model'))
  prompt = tokenizer.encode(renderChat([{ role: 'user', content: 'Where does the fox live?' }], true))
  baseLogits = (await forwardBatch(base, [prompt], { fetch: ['logits'] })).outputs.logits
    ?.data as Float32Array
})

afterAll(async () => {
  await base?.dispose()
  await rm(scratch, { recursive: true, force: true })
})

/** Fit `method` on the scratch pairs, run the prompt at strengths 0 and 1, and read each edited site around its edit. */
async function fitAndRun(method: 'iti' | 'sadi', options: Record<string, unknown>) {
  const folder = join(scratch, 'model')
  const { edit } = await fitFromDemonstrations({
    model: base,
    data: join(scratch, 'pairs.jsonl'),
    method,
    options,
  })
  const compiled = await compileGraph(folder, {
    edits: [edit],
    hooks: edit.interventions.map(({ layer, site }) => ({ layer, site })),
    exposeEditInputs: true,
  })
  const steered = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
  try {
    const fetch = [
      'logits',
      ...edit.interventions.flatMap(({ layer, site }) => [
        hookOutputName(site, layer),
        `${hookOutputName(site, layer)}.input`,
      ]),
    ]
    const result = await forwardBatch(steered, [prompt, prompt], {
      fetch,
      extraInputs: steeringInputs(compiled, [0, 1]),
    })
    const logits = result.outputs.logits?.data as Float32Array
    const size = logits.length / 2
    return {
      edit,
      result,
      zero: logits.subarray(0, size),
      one: logits.subarray(size),
    }
  } finally {
    await steered.dispose()
  }
}

/** Check the edited sites: row 0 untouched; row 1 changed by `expected` at `editedPosition`, untouched elsewhere. */
function checkSites(
  edit: Edit,
  result: Awaited<ReturnType<typeof fitAndRun>>['result'],
  editedPositions: (position: number) => boolean,
  expected: (input: number, index: number, layerIndex: number) => number,
) {
  const sequence = result.sequence
  edit.interventions.forEach(({ layer, site }, layerIndex) => {
    const after = result.outputs[hookOutputName(site, layer)]?.data as Float32Array
    const before = result.outputs[`${hookOutputName(site, layer)}.input`]?.data as Float32Array
    const width = after.length / (2 * sequence)
    for (let row = 0; row < 2; row++) {
      for (let position = 0; position < sequence; position++) {
        const offset = (row * sequence + position) * width
        const input = before.subarray(offset, offset + width)
        const output = after.subarray(offset, offset + width)
        if (row === 0 || !editedPositions(position)) {
          expect(output, `layer ${layer} row ${row} position ${position}`).toEqual(input)
          continue
        }
        input.forEach((value, index) => {
          const target = expected(value, index, layerIndex)
          expect(Math.abs((output[index] as number) - target)).toBeLessThanOrEqual(
            1e-5 * Math.max(1, Math.abs(target)),
          )
        })
      }
    }
  })
}

describe('ITI and SADI on the organism', () => {
  it('ITI: strength 0 is the base model bit for bit; strength 1 adds α·σ·θ̂ to the selected heads', async () => {
    const { edit, result, zero, one } = await fitAndRun('iti', { topHeads: 2 })
    expect(edit.interventions.length).toBeGreaterThan(0)
    expect(zero).toEqual(baseLogits)
    expect(one.every(Number.isFinite)).toBe(true)
    expect(one).not.toEqual(baseLogits)
    // Prefill of one prompt: "the last position of each forward call" is its last token.
    checkSites(
      edit,
      result,
      (position) => position === prompt.length - 1,
      (input, index, layerIndex) => {
        const op = edit.interventions[layerIndex]?.op
        if (op?.kind !== 'add') throw new Error('ITI edits add')
        return input + (op.vector[index] as number)
      },
    )
  })

  it('SADI-HEAD: strength 0 is the base model bit for bit; masked heads are (1 + δ)× at the last prompt token', async () => {
    const { edit, result, zero, one } = await fitAndRun('sadi', {})
    expect(zero).toEqual(baseLogits)
    expect(one.every(Number.isFinite)).toBe(true)
    expect(one).not.toEqual(baseLogits)
    const masked = edit.interventions.map(({ op }) => {
      if (op.kind !== 'scale') throw new Error('SADI edits scale')
      return op.factors
    })
    expect(masked.reduce((total, factors) => total + factors.filter((value) => value === 9).length, 0)).toBe(
      4 * 32,
    )
    checkSites(
      edit,
      result,
      (position) => position === prompt.length - 1,
      (input, index, layerIndex) => ((masked[layerIndex]?.[index] ?? 0) === 0 ? input : 10 * input),
    )
  })

  it('SADI-NEURON: masked mlp_gate elements are (1 + δ)× at the last prompt token, strength 0 exact', async () => {
    const { edit, result, zero, one } = await fitAndRun('sadi', { variant: 'neuron', topK: 5, delta: 2 })
    expect(edit.interventions.every(({ site }) => site === 'mlp_gate')).toBe(true)
    expect(zero).toEqual(baseLogits)
    expect(one.every(Number.isFinite)).toBe(true)
    expect(one).not.toEqual(baseLogits)
    const masked = edit.interventions.map(({ op }) => (op.kind === 'scale' ? op.factors : new Float32Array()))
    expect(masked.reduce((total, factors) => total + factors.filter((value) => value === 2).length, 0)).toBe(
      5,
    )
    checkSites(
      edit,
      result,
      (position) => position === prompt.length - 1,
      (input, index, layerIndex) => ((masked[layerIndex]?.[index] ?? 0) === 0 ? input : 3 * input),
    )
  })
})
