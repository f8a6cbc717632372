import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { AutoModelForCausalLM, AutoTokenizer, env, type Tensor } from '@huggingface/transformers'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Edit, Intervention } from '../../src/shared/edit.ts'
import { compileEdits } from '../../src/main/core/edits/compiler/compile.ts'
import { readEditFile, writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { exportSteeredModel } from '../../src/main/core/edits/steered-export.ts'
import {
  generateSteered,
  loadSteeredModel,
  steeringInputs,
} from '../../src/main/core/edits/steered-generation.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { resolveGraphPath } from '../../src/main/core/models/locator/graph-file.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { cacheFolderVariable } from '../../src/main/core/workspace/cache-folders.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import {
  editOf,
  maxDifference,
  ortgenaiFixture,
  orthonormalBasis,
  randomVector,
  writableCopy,
} from '../compiler/support.ts'
import { cacheShapeOf, runStep, stepContext, type CacheShape, type StepOutput } from './raw-steps.ts'

/**
 * `tiller export --onnx`: the exported folder takes only the base model's inputs, its logits equal the compiled
 * steered graph's (fed the runtime's masks) at prefill and one decode step, strength 0 is the base model bit for
 * bit, and it generates in Transformers.js and Tiller's plain runtime exactly like steered generation (the command
 * line is in steered-export-cli.test.ts).
 */

env.allowRemoteModels = false
env.useFSCache = false

const work = mkdtempSync(join(tmpdir(), 'tiller-steered-export-'))
const previousCache = process.env[cacheFolderVariable]

afterAll(() => {
  if (previousCache === undefined) delete process.env[cacheFolderVariable]
  else process.env[cacheFolderVariable] = previousCache
  rmSync(work, { recursive: true, force: true })
})

let exportCount = 0

/** Write `interventions` as an edit file fitted on `folder` and export it at `strength`; returns the folder. */
async function exportEdit(folder: string, edit: Edit, strength: number): Promise<string> {
  const path = join(work, `edit-${exportCount}.safetensors`)
  const out = join(work, `export-${exportCount++}`)
  await writeEditFile(path, edit)
  const file = await readEditFile(path, await fingerprintModel(folder))
  await exportSteeredModel(folder, file, out, { strength })
  return out
}

function graphOf(out: string): string {
  return resolveGraphPath(out)
}

/** Prefill and decode logits of a session over the plain inputs (plus runtime inputs per step). */
async function twoSteps(
  session: ort.InferenceSession,
  cache: CacheShape,
  extra: (step: 0 | 1) => Record<string, ort.Tensor> = () => ({}),
): Promise<[StepOutput, StepOutput]> {
  const prefill = await runStep(session, cache, 0, undefined, extra(0))
  const decode = await runStep(session, cache, 1, prefill, extra(1))
  return [prefill, decode]
}

const models = [
  {
    name: 'tiny optimum model',
    create: () => buildTinyModel({ family: 'optimum', seed: 7 }),
    scale: 3,
    temporary: true,
  },
  {
    name: 'tiny float16 builder model',
    create: () => buildTinyModel({ family: 'builder', dtype: 'float16', seed: 7 }),
    scale: 3,
    temporary: true,
  },
  { name: 'organism', create: async () => defaultModelFolder(), scale: 1, temporary: false },
]

describe.each(models)('export --onnx of the $name', ({ create, scale, temporary }) => {
  let folder: string
  let width: number
  let cache: CacheShape
  let edit: (id: string, interventions: Omit<Intervention, 'layer'>[]) => Promise<Edit>

  beforeAll(async () => {
    process.env[cacheFolderVariable] = join(work, 'cache')
    folder = await create()
    cache = cacheShapeOf(folder)
    const fingerprint = await fingerprintModel(folder)
    width = fingerprint.hiddenSize
    edit = async (id, interventions) => ({
      ...editOf(
        id,
        interventions.map((intervention) => ({ ...intervention, layer: 1 })),
      ),
      model: fingerprint,
    })
  })
  afterAll(() => {
    if (temporary) rmSync(dirname(folder), { recursive: true, force: true })
  })

  const cases = [
    {
      name: 'add at all',
      strength: 1.5,
      interventions: (w: number, s: number): Omit<Intervention, 'layer'>[] => [
        {
          site: 'resid_post',
          positions: { kind: 'all' },
          op: { kind: 'add', vector: randomVector(w, 11).map((v) => v * s) },
        },
      ],
    },
    {
      name: 'scale at lastPromptToken',
      strength: 0.8,
      interventions: (w: number): Omit<Intervention, 'layer'>[] => [
        {
          site: 'resid_post',
          positions: { kind: 'lastPromptToken' },
          op: { kind: 'scale', factors: randomVector(w, 12) },
        },
      ],
    },
    {
      name: 'project at lastPromptAndGenerated',
      strength: 1,
      interventions: (w: number): Omit<Intervention, 'layer'>[] => [
        {
          site: 'resid_pre',
          positions: { kind: 'lastPromptAndGenerated' },
          op: { kind: 'project', basis: orthonormalBasis(2, w, 13), rank: 2, mode: 'remove' },
        },
      ],
    },
    {
      name: 'four masks and addAt',
      strength: -1.2,
      interventions: (w: number, s: number): Omit<Intervention, 'layer'>[] => [
        {
          site: 'resid_pre',
          positions: { kind: 'all' },
          op: { kind: 'addAt', vectors: randomVector(2 * w, 14).map((v) => v * s), count: 2 },
        },
        {
          site: 'attn_out',
          positions: { kind: 'promptPrefix', count: 3 },
          op: { kind: 'add', vector: randomVector(w, 17).map((v) => v * s) },
        },
        {
          site: 'mlp_out',
          positions: { kind: 'generated' },
          op: { kind: 'add', vector: randomVector(w, 15).map((v) => v * s) },
        },
        {
          site: 'resid_post',
          positions: { kind: 'prompt' },
          op: { kind: 'scale', factors: randomVector(w, 16) },
        },
      ],
    },
  ]

  it.each(cases)('$name: the logits equal the compiled graph at the same strength', async (testCase) => {
    const steeringEdit = await edit('case', testCase.interventions(width, scale))
    const out = await exportEdit(folder, steeringEdit, testCase.strength)
    const compiled = await compileEdits(folder, [steeringEdit])
    const exported = await ort.InferenceSession.create(graphOf(out))
    const reference = await ort.InferenceSession.create(compiled.graphPath)
    const base = await ort.InferenceSession.create(resolveGraphPath(folder))
    try {
      expect(exported.inputNames).toEqual(base.inputNames)
      const inputs = steeringInputs(compiled, [testCase.strength, testCase.strength])
      const expected = await twoSteps(reference, cache, (step) => inputs(stepContext(step)))
      const actual = await twoSteps(exported, cache)
      const unedited = await twoSteps(base, cache)
      for (const step of [0, 1] as const) {
        expect(maxDifference(actual[step].logits, expected[step].logits)).toBe(0)
      }
      // The edit does act: the steered logits differ from the base model's.
      expect(maxDifference(actual[0].logits, unedited[0].logits)).toBeGreaterThan(1e-3)
    } finally {
      await Promise.all([exported.release(), reference.release(), base.release()])
    }
  })

  it('an export at strength 0 gives exactly the base model logits', async () => {
    const steeringEdit = await edit('zero', cases[3]?.interventions(width, scale) ?? [])
    const out = await exportEdit(folder, steeringEdit, 0)
    const exported = await ort.InferenceSession.create(graphOf(out))
    const base = await ort.InferenceSession.create(resolveGraphPath(folder))
    try {
      const actual = await twoSteps(exported, cache)
      const expected = await twoSteps(base, cache)
      for (const step of [0, 1] as const) {
        expect(
          Buffer.from(actual[step].logits.buffer).equals(Buffer.from(expected[step].logits.buffer)),
        ).toBe(true)
      }
    } finally {
      await Promise.all([exported.release(), base.release()])
    }
  })

  it('the folder generates in Transformers.js and Tiller exactly like steered generation', async () => {
    const strength = 1.5
    const steeringEdit = await edit('generate', cases[0]?.interventions(width, scale) ?? [])
    const out = await exportEdit(folder, steeringEdit, strength)
    const record = JSON.parse(readFileSync(join(out, 'tiller-edit.json'), 'utf8')) as {
      strength: { value: number }
    }
    expect(record.strength.value).toBe(strength)
    expect(existsSync(join(out, 'tokenizer.json'))).toBe(true)
    const tokenizer = await AutoTokenizer.from_pretrained(out)
    const encoded = tokenizer('Once upon a time')
    const prompt = Array.from(encoded.input_ids.data as BigInt64Array, Number)
    const tokens = 8
    const transformers = await AutoModelForCausalLM.from_pretrained(out, { device: 'cpu' })
    let continuation: number[]
    try {
      const generated = (await transformers.generate({
        ...encoded,
        max_new_tokens: tokens,
        min_new_tokens: tokens,
        do_sample: false,
      })) as Tensor
      continuation = Array.from(generated.data as BigInt64Array, Number).slice(prompt.length)
    } finally {
      await transformers.dispose()
    }
    const options = { maxTokens: tokens, temperature: 0, eosTokenIds: [-1] }
    const steered = await loadSteeredModel(folder, [steeringEdit], { provider: 'cpu' })
    const plain = await loadModel(out, { provider: 'cpu' })
    try {
      const [expected] = await generateSteered(steered, { rows: [prompt], strengths: [strength], options })
      const [again] = await generate(plain, { rows: [prompt], options })
      expect(expected?.generated).toHaveLength(tokens)
      expect(continuation).toEqual(expected?.generated)
      expect(again?.generated).toEqual(expected?.generated)
    } finally {
      await Promise.all([steered.model.dispose(), plain.dispose()])
    }
  })
})

describe('export --onnx of a foreign onnxruntime-genai export (float16, no config.json)', () => {
  let folder: string

  beforeAll(() => {
    process.env[cacheFolderVariable] = join(work, 'cache')
    folder = writableCopy(ortgenaiFixture)
  })
  afterAll(() => rmSync(dirname(folder), { recursive: true, force: true }))

  it('takes the graph inputs as they were and matches the compiled graph', async () => {
    const fingerprint = await fingerprintModel(folder)
    const steeringEdit: Edit = {
      ...editOf('genai', [
        {
          layer: 1,
          site: 'mlp_out',
          positions: { kind: 'lastPromptAndGenerated' },
          op: { kind: 'add', vector: randomVector(fingerprint.hiddenSize, 31) },
        },
      ]),
      model: fingerprint,
    }
    const out = await exportEdit(folder, steeringEdit, 2)
    expect(existsSync(join(out, 'onnx', 'model.onnx_data'))).toBe(true)
    const compiled = await compileEdits(folder, [steeringEdit])
    const exported = await ort.InferenceSession.create(graphOf(out))
    const reference = await ort.InferenceSession.create(compiled.graphPath)
    const base = await ort.InferenceSession.create(resolveGraphPath(folder))
    const cache = { kvHeads: 1, headDim: 16 }
    try {
      expect(exported.inputNames).toEqual(base.inputNames)
      const inputs = steeringInputs(compiled, [2, 2])
      const expected = await twoSteps(reference, cache, (step) => inputs(stepContext(step)))
      const actual = await twoSteps(exported, cache)
      const unedited = await twoSteps(base, cache)
      for (const step of [0, 1] as const) {
        expect(maxDifference(actual[step].logits, expected[step].logits)).toBe(0)
        expect(maxDifference(actual[step].logits, unedited[step].logits)).toBeGreaterThan(0)
      }
    } finally {
      await Promise.all([exported.release(), reference.release(), base.release()])
    }
  })
})
