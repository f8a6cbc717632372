import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { compileEdits } from '../../src/main/core/edits/compiler/compile.ts'
import { generateSteered, steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { allPositions, editOf, orthonormalBasis, randomVector } from '../compiler/support.ts'
import { openScratchOrganism, type ScratchOrganism } from '../organism/scratch-organism.ts'

/**
 * Edits stacked on the chat's steered column, each with its own strength (`tiller_edit_strength [batch, edits]`),
 * on the organism: every strength 0 is the base model bit for bit, one edit on and the other off is that edit alone
 * bit for bit, all ones is the plain composition, and the base row of a chat batch is the base model's generation.
 */

const width = 224
let organism: ScratchOrganism
let rows: number[][]
let additive: Edit
let projection: Edit
let stacked: LoadedModel
let stackedGraph: Awaited<ReturnType<typeof compileEdits>>
const opened: LoadedModel[] = []

async function logits(model: LoadedModel, inputs?: Parameters<typeof forwardBatch>[2]['extraInputs']) {
  const result = await forwardBatch(model, rows, { fetch: ['logits'], extraInputs: inputs })
  return result.outputs.logits?.data as Float32Array
}

async function compiledModel(edits: Edit[], strengthPerEdit: boolean) {
  const compiled = await compileEdits(organism.folder, edits, { strengthPerEdit })
  const model = await loadModel(organism.folder, { provider: 'cpu', graphFile: compiled.graphFile })
  opened.push(model)
  return { compiled, model }
}

/** Whether two float32 arrays hold the same bits (so -0 and 0 differ, and NaN equals itself). */
function sameBits(first: Float32Array, second: Float32Array): boolean {
  const left = new Uint32Array(first.buffer, first.byteOffset, first.length)
  const right = new Uint32Array(second.buffer, second.byteOffset, second.length)
  return left.length === right.length && left.every((value, index) => value === right[index])
}

beforeAll(async () => {
  organism = await openScratchOrganism('tiller-stacked-')
  const tokenizer = await loadTokenizer(organism.folder)
  const render = (text: string) =>
    renderPrompt(tokenizer, text, { chat: true, maxTokens: 16, contextLength: 256 }).ids
  rows = [render('Where does the fox live?'), render('Tell me the colour of the owl. Do you like the boat?')]
  additive = editOf('additive', [
    {
      layer: 2,
      site: 'resid_post',
      positions: allPositions,
      op: { kind: 'add', vector: randomVector(width, 11) },
    },
  ])
  projection = editOf('projection', [
    {
      layer: 4,
      site: 'resid_post',
      positions: allPositions,
      op: { kind: 'project', basis: orthonormalBasis(1, width, 12), rank: 1, mode: 'remove' },
    },
  ])
  ;({ compiled: stackedGraph, model: stacked } = await compiledModel([additive, projection], true))
})

afterAll(async () => {
  for (const model of opened) await model.dispose()
  await organism?.close()
})

describe('stacked edits with a strength each', () => {
  test('the graph takes one strength per row and edit', () => {
    expect(stackedGraph.usesEditStrength).toBe(true)
    expect(stackedGraph.editCount).toBe(2)
    expect(stacked.session.inputNames).toContain('tiller_edit_strength')
  })

  test('strength 0 for every edit, or row strength 0, is the base model bit for bit', async () => {
    const base = await logits(organism.model)
    const allOff = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [0, 0],
        [0, 0],
      ]),
    )
    const rowOff = await logits(
      stacked,
      steeringInputs(stackedGraph, [0, 0], {}, [
        [3, -2],
        [5, 1],
      ]),
    )
    expect(sameBits(allOff, base)).toBe(true)
    expect(sameBits(rowOff, base)).toBe(true)
    // The same graph with the edits on moves the logits, so the equalities above are not vacuous.
    const on = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [3, 1],
        [3, 1],
      ]),
    )
    expect(sameBits(on, base)).toBe(false)
  })

  test('one edit on and the other off is that edit alone, bit for bit', async () => {
    const alone = await compiledModel([additive], false)
    const aloneLogits = await logits(alone.model, steeringInputs(alone.compiled, [2.5, -1.5]))
    const stackedLogits = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [2.5, 0],
        [-1.5, 0],
      ]),
    )
    expect(sameBits(stackedLogits, aloneLogits)).toBe(true)
    const projectionAlone = await compiledModel([projection], false)
    const projected = await logits(projectionAlone.model, steeringInputs(projectionAlone.compiled, [1, 0.5]))
    const stackedProjected = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [0, 1],
        [0, 0.5],
      ]),
    )
    expect(sameBits(stackedProjected, projected)).toBe(true)
    const both = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [2.5, 1],
        [-1.5, 0.5],
      ]),
    )
    expect(sameBits(both, aloneLogits)).toBe(false)
    expect(sameBits(both, projected)).toBe(false)
  })

  test('factors of one give the plain composition (one strength for both edits)', async () => {
    const composed = await compiledModel([additive, projection], false)
    const plain = await logits(composed.model, steeringInputs(composed.compiled, [2, 0.75]))
    const ones = await logits(stacked, steeringInputs(stackedGraph, [2, 0.75]))
    const scaled = await logits(
      stacked,
      steeringInputs(stackedGraph, [1, 1], {}, [
        [2, 2],
        [0.75, 0.75],
      ]),
    )
    expect(sameBits(ones, plain)).toBe(true)
    // α·β = β exactly when α = 1, so moving the strength into the factors changes nothing.
    expect(sameBits(scaled, plain)).toBe(true)
  })

  test('a chat batch: the base row generates exactly what the base model generates for the same rows', async () => {
    const options = { maxTokens: 12, temperature: 0.8, seed: 5 }
    const baseline = await generate(organism.model, { rows, options })
    const steered = await generateSteered(
      { model: stacked, compiled: stackedGraph },
      {
        rows,
        strengths: [0, 1],
        editStrengths: [
          [0, 0],
          [6, 1],
        ],
        options,
      },
    )
    expect(steered[0]?.generated).toEqual(baseline[0]?.generated)
    expect(steered[0]?.text).toBe(baseline[0]?.text)
    expect(steered[1]?.generated).not.toEqual(baseline[1]?.generated)
  })

  test('edit strengths that do not fit the graph are refused by name', () => {
    expect(() => steeringInputs(stackedGraph, [1, 1], {}, [[1, 1]])).toThrow(
      /1 rows of edit strengths for 2 rows/,
    )
    expect(() => steeringInputs(stackedGraph, [1, 1], {}, [[1], [1, 1]])).toThrow(
      /Row 0 has edit strengths 1; give 2/,
    )
  })
})
