import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AutoModelForCausalLM, Tensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { logitsAsFloat32 } from '../../src/main/core/runtime/logits.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { configureOfflineTransformers } from '../../src/main/core/runtime/offline-transformers.ts'

/**
 * stories260K end to end: `tiller import gguf` into each graph family, then generation reproduces run.c's greedy
 * goldens (GOLDEN.json) token for token, the prompt logits match within 1e-4, and Transformers.js agrees.
 * run.c counts prompt positions in `steps`, so its `tokens` (prompt included) are a prefix of ours.
 */

interface GoldenCase {
  prompt: string
  steps: number
  prompt_tokens: number[]
  tokens: number[]
  text: string
  logits_per_position?: number[][]
}

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const fixtures = resolve(root, '..', 'shared', 'fixtures')
const ggufPath = join(fixtures, 'stories260K-gguf', 'stories260K.gguf')
const goldenPath = join(fixtures, 'stories260K', 'GOLDEN.json')
const families: GraphFamily[] = ['builder', 'optimum']

function requireFixture(path: string): string {
  if (!existsSync(path))
    throw new Error(`Golden fixture ${path} is missing; restore it from ../shared/fixtures.`)
  return path
}

function tiller(...args: string[]) {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'tiller.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

let scratch: string
let cases: GoldenCase[]
const folders = new Map<GraphFamily, string>()

beforeAll(() => {
  requireFixture(ggufPath)
  cases = (JSON.parse(readFileSync(requireFixture(goldenPath), 'utf8')) as { cases: GoldenCase[] }).cases
  scratch = mkdtempSync(join(tmpdir(), 'tiller-golden-'))
  for (const family of families) {
    const folder = join(scratch, family)
    const run = tiller('import', 'gguf', ggufPath, '--out', folder, '--graph', family)
    if (run.status !== 0) throw new Error(`tiller import gguf --graph ${family} failed: ${run.stderr}`)
    folders.set(family, folder)
  }
})

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
})

function golden(prompt: string): GoldenCase {
  const found = cases.find((entry) => entry.prompt === prompt)
  if (found === undefined) throw new Error(`GOLDEN.json has no case for prompt ${JSON.stringify(prompt)}`)
  return found
}

describe.each(families)('stories260K imported as the %s family', (family) => {
  let model: LoadedModel

  beforeAll(async () => {
    model = await loadModel(folders.get(family) as string, { provider: 'cpu' })
  })

  afterAll(async () => {
    await model.dispose()
  })

  it('`tiller generate --temperature 0 --json` reproduces the golden token ids', () => {
    const expected = golden('Once upon a time')
    const run = tiller(
      'generate',
      '--model',
      folders.get(family) as string,
      '--prompt',
      'Once upon a time',
      '--max-tokens',
      '64',
      '--temperature',
      '0',
      '--json',
    )
    expect(run.status, run.stderr).toBe(0)
    const output = JSON.parse(run.stdout) as { tokens: number[]; text: string; finishReason: string }
    expect(output.tokens).toHaveLength(expected.prompt_tokens.length + 64)
    expect(output.tokens.slice(0, expected.tokens.length)).toEqual(expected.tokens)
    expect('Once upon a time' + output.text).toContain(expected.text)
  })

  it('tokenizes every golden prompt like run.c and generates each golden case exactly', async () => {
    for (const expected of cases) {
      const prompt =
        expected.prompt === ''
          ? [model.config.bosTokenId ?? 1] // an empty prompt is refused by renderPrompt; run.c feeds BOS alone
          : renderPrompt(model.tokenizer, expected.prompt, { maxTokens: 1, contextLength: 2048 }).ids
      expect(prompt).toEqual(expected.prompt_tokens)
      const maxTokens = expected.tokens.length - prompt.length
      const [result] = await generate(model, { rows: [prompt], options: { maxTokens, temperature: 0 } })
      expect(result?.tokens).toEqual(expected.tokens)
      expect(model.tokenizer.decode(result?.tokens ?? [], { skip_special_tokens: true })).toBe(expected.text)
    }
  })

  it('generates all golden cases in one left-padded batch', async () => {
    const maxTokens = 40
    const results = await generate(model, {
      rows: cases.map((entry) => entry.prompt_tokens),
      options: { maxTokens, temperature: 0 },
    })
    for (const [row, expected] of cases.entries()) {
      const length = expected.prompt_tokens.length + maxTokens
      expect(results[row]?.tokens).toEqual(expected.tokens.slice(0, length))
    }
  })

  it('matches the golden logits at the prompt positions within 1e-4', async () => {
    const expected = golden('Once upon a time')
    const rows = expected.logits_per_position ?? []
    expect(rows.length).toBe(expected.prompt_tokens.length)
    const { outputs } = await forwardBatch(model, [expected.prompt_tokens], { fetch: ['logits'] })
    const tensor = outputs['logits']
    if (tensor === undefined) throw new Error('forwardBatch returned no logits')
    const logits = logitsAsFloat32(tensor)
    const vocab = model.config.vocabSize
    let worst = 0
    for (const [position, reference] of rows.entries()) {
      expect(reference).toHaveLength(vocab)
      for (let token = 0; token < vocab; token++) {
        worst = Math.max(
          worst,
          Math.abs((logits[position * vocab + token] as number) - (reference[token] as number)),
        )
      }
    }
    expect(worst).toBeLessThan(1e-4)
  })

  it('loads in Transformers.js, whose greedy generate() gives the same tokens', async () => {
    configureOfflineTransformers()
    const transformers = await AutoModelForCausalLM.from_pretrained(folders.get(family) as string, {
      device: 'cpu',
    })
    try {
      for (const expected of [golden('Once upon a time'), golden('Zoo')]) {
        const length = expected.prompt_tokens.length
        const output = await transformers.generate({
          input_ids: new Tensor('int64', BigInt64Array.from(expected.prompt_tokens, BigInt), [1, length]),
          attention_mask: new Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]),
          max_new_tokens: expected.tokens.length - length,
          do_sample: false,
        } as Parameters<typeof transformers.generate>[0])
        const ids = (output as { tolist(): bigint[][] }).tolist()[0]?.map(Number)
        expect(ids).toEqual(expected.tokens)
      }
    } finally {
      await transformers.dispose()
    }
  })
})
