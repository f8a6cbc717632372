import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { AutoModelForCausalLM, AutoTokenizer, Tensor, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { readStoriesGolden, requireFixture, storiesGgufPath } from './helpers/fixtures.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'
import { spawnTiller } from '../helpers/cli.ts'
import { referenceForward } from '../helpers/reference-llama.ts'

describe('tiller import gguf', () => {
  let folder = ''
  beforeAll(async () => {
    requireFixture(storiesGgufPath)
    folder = await mkdtemp(join(tmpdir(), 'tiller-import-cli-'))
    env.allowRemoteModels = false
    env.useFSCache = false
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  for (const graph of ['builder', 'optimum'] as const) {
    it(`writes a ${graph} folder that Transformers.js loads and that reproduces the goldens`, async () => {
      const outDir = join(folder, graph)
      const run = spawnTiller('import', 'gguf', storiesGgufPath, '--out', outDir, '--graph', graph)
      expect(run.stderr.split('\n').filter((line) => line.startsWith('tiller'))).toEqual([])
      expect(run.status).toBe(0)
      expect(run.stdout).toContain(`${graph} graph`)
      const config = JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8')) as Record<
        string,
        unknown
      >
      expect(config).toMatchObject({ num_hidden_layers: 5, hidden_size: 64, tie_word_embeddings: true })

      const golden = readStoriesGolden()
      const tokenizer = await AutoTokenizer.from_pretrained(outDir)
      for (const [text, ids] of Object.entries(golden.encode_examples))
        expect(tokenizer.encode(text)).toEqual(ids)
      const model = await AutoModelForCausalLM.from_pretrained(outDir, { dtype: 'fp32', device: 'cpu' })
      try {
        const goldenCase = golden.cases[0]
        if (goldenCase?.logits_per_position === undefined) throw new Error('GOLDEN.json case 0 has no logits')
        const length = goldenCase.prompt_tokens.length
        const inputIds = new Tensor('int64', BigInt64Array.from(goldenCase.prompt_tokens.map(BigInt)), [
          1,
          length,
        ])
        const attentionMask = new Tensor('int64', new BigInt64Array(length).fill(1n), [1, length])
        const { logits } = (await model({ input_ids: inputIds, attention_mask: attentionMask })) as {
          logits: Tensor
        }
        const values = logits.data as Float32Array
        const worst = goldenCase.logits_per_position
          .flat()
          .reduce((maximum, value, index) => Math.max(maximum, Math.abs((values[index] ?? NaN) - value)), 0)
        expect(worst).toBeLessThan(1e-4)
        const generated = (await model.generate({
          input_ids: inputIds,
          attention_mask: attentionMask,
          max_new_tokens: 24,
          do_sample: false,
        })) as Tensor
        const tokens = Array.from(generated.data as BigInt64Array, Number)
        expect(tokens).toEqual(goldenCase.tokens.slice(0, length + 24))
      } finally {
        await model.dispose()
      }
    })
  }

  it('imports a float16 GGUF (float16 matrices, float32 norms) into a graph that matches the reference forward', async () => {
    const path = join(folder, 'tiny-f16.gguf')
    await writeGgufFile(
      path,
      checkpointToGguf(randomCheckpoint(tinyConfig, 9), { matrixType: GGMLQuantizationType.F16 }),
    )
    const outDir = join(folder, 'tiny-f16')
    const run = spawnTiller(
      'import',
      'gguf',
      path,
      '--out',
      outDir,
      '--graph',
      'optimum',
      '--dtype',
      'float32',
    )
    expect(run.status).toBe(0)
    const prompt = [1, 259, 262, 270, 5, 290]
    const expected = referenceForward((await importGguf(path)).checkpoint, prompt)
    const model = await AutoModelForCausalLM.from_pretrained(outDir, { dtype: 'fp32', device: 'cpu' })
    try {
      const inputIds = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length])
      const attentionMask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length])
      const { logits } = (await model({ input_ids: inputIds, attention_mask: attentionMask })) as {
        logits: Tensor
      }
      const values = logits.data as Float32Array
      const worst = expected.reduce(
        (maximum, value, index) => Math.max(maximum, Math.abs((values[index] ?? NaN) - value)),
        0,
      )
      expect(worst).toBeLessThan(1e-4)
    } finally {
      await model.dispose()
    }
  })

  it('imports a Q4_K_M-style GGUF (Q4_K matrices, Q6_K output and ffn_down) and says which types it dequantized', async () => {
    const config = { ...tinyConfig, hiddenSize: 256, intermediateSize: 256, headDim: 64 }
    const path = join(folder, 'tiny-q4km.gguf')
    await writeGgufFile(
      path,
      checkpointToGguf(randomCheckpoint(config, 10), {
        matrixType: GGMLQuantizationType.Q4_K,
        tensorTypes: {
          'output.weight': GGMLQuantizationType.Q6_K,
          'blk.0.ffn_down.weight': GGMLQuantizationType.Q6_K,
        },
      }),
    )
    const outDir = join(folder, 'tiny-q4km')
    const run = spawnTiller('import', 'gguf', path, '--out', outDir)
    expect(run.stderr.split('\n').filter((line) => line.startsWith('tiller'))).toEqual([])
    expect(run.status).toBe(0)
    expect(run.stdout).toContain('tensors 14 Q4_K, 5 F32, 2 Q6_K')
    // The default dtype is q4 with int8 compute, whose kernel needs integer zero points: the Q4_K blocks are
    // requantized to 4 bits with fitted zero points (the import says how far), Q6_K is requantized to 8 bits.
    expect(run.stdout).toContain('(builder graph, q4, int8 compute)')
    expect(run.stdout).toContain(
      'Weight matrices as q4 blocks: 0 copied exactly from their blocks, 0 copied with float zero points, 2 requantized, 14 requantized with fitted zero points (largest difference',
    )
    expect(run.stdout).toMatch(
      /Blocks with offsets: 14 weights requantized to 4 bits with fitted zero points, relative RMS difference 0\.0\d+ to the dequantized weights/,
    )
    expect(run.stdout).toMatch(/Precision: 14 at 4 bits \(largest difference [\d.e-]+\), 2 at 8 bits/)
    expect(existsSync(join(outDir, 'config.json'))).toBe(true)
    expect(existsSync(join(outDir, 'onnx/model_q4.onnx'))).toBe(true)
    const recorded = JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8'))
    expect(recorded.tiller).toMatchObject({ compute: 'int8', offsetBlocks: '4bit' })
    // --offset-blocks 8bit keeps the Q4_K quants at 8 bits (zero points rounded to 1/32 of a step).
    const kept = spawnTiller('import', 'gguf', path, '--out', `${outDir}-8bit`, '--offset-blocks', '8bit')
    expect(kept.status).toBe(0)
    expect(kept.stdout).toMatch(/Precision: 16 at 8 bits \(largest difference [\d.e-]+\)\./)
    // Float compute keeps the file's mix as it is: Q4_K blocks at 4 bits with float zero points, Q6_K at 8.
    const exact = spawnTiller('import', 'gguf', path, '--out', `${outDir}-exact`, '--compute', 'float32')
    expect(exact.status).toBe(0)
    expect(exact.stdout).toContain('(builder graph, q4, float32 compute)')
    expect(exact.stdout).toContain(
      'Weight matrices as q4 blocks: 0 copied exactly from their blocks, 13 copied with float zero points, 2 requantized (largest difference',
    )
    expect(exact.stdout).toMatch(
      /Precision: 13 at 4 bits \(largest difference [\d.e-]+\), 2 at 8 bits \(largest difference [\d.e-]+\)\./,
    )
    const exactConfig = JSON.parse(await readFile(join(`${outDir}-exact`, 'config.json'), 'utf8'))
    expect(exactConfig.tiller.compute).toBe('float32')
    const asFloat = spawnTiller('import', 'gguf', path, '--out', `${outDir}-float`, '--dtype', 'float32')
    expect(asFloat.status).toBe(0)
    expect(asFloat.stdout).toContain('Dequantized the Q4_K, Q6_K weights; the graph holds them as float32.')
  })

  it('exits non-zero with one line naming the file for a corrupt GGUF, leaving no folder behind', async () => {
    const original = await readFile(storiesGgufPath)
    const corrupt = join(folder, 'cut.gguf')
    await writeFile(corrupt, original.subarray(0, 20_000))
    const outDir = join(folder, 'from-corrupt')
    const run = spawnTiller('import', 'gguf', corrupt, '--out', outDir)
    expect(run.status).not.toBe(0)
    expect(run.stdout).toBe('')
    const lines = run.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm warn'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(corrupt)
    expect(lines[0]).toContain('truncated')
    expect(existsSync(outDir)).toBe(false)
    expect((await readdir(folder)).filter((name) => name.includes('from-corrupt'))).toEqual([])
  })

  it('refuses to overwrite a non-empty folder without --force, replaces it with --force', async () => {
    const outDir = join(folder, 'existing')
    await rm(outDir, { recursive: true, force: true })
    await import('node:fs/promises').then(({ mkdir }) => mkdir(outDir))
    await writeFile(join(outDir, 'keep.txt'), 'old')
    const refused = spawnTiller('import', 'gguf', storiesGgufPath, '--out', outDir)
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toContain('--force')
    expect(await readdir(outDir)).toEqual(['keep.txt'])
    const forced = spawnTiller('import', 'gguf', storiesGgufPath, '--out', outDir, '--force', '--json')
    expect(forced.status).toBe(0)
    expect(JSON.parse(forced.stdout)).toMatchObject({
      graph: 'builder',
      dtype: 'float32',
      source: { tensorCount: 48 },
    })
    expect((await readdir(outDir)).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
  })

  it('rejects bad arguments with a message naming the flag', () => {
    const outDir = join(folder, 'unused')
    const cases: [string[], string][] = [
      [['import', 'gguf', storiesGgufPath, '--out', outDir, '--graph', 'tensorrt'], '--graph'],
      [['import', 'gguf', storiesGgufPath, '--out', outDir, '--dtype', 'int4'], '--dtype'],
      [['import', 'gguf', storiesGgufPath, '--out', outDir, '--compute', 'int4'], '--compute'],
      [
        ['import', 'gguf', storiesGgufPath, '--out', outDir, '--dtype', 'float32', '--compute', 'int8'],
        '--compute',
      ],
      [['import', 'gguf', storiesGgufPath, '--out', outDir, '--offset-blocks', '6bit'], '--offset-blocks'],
      [
        ['import', 'gguf', storiesGgufPath, '--out', outDir, '--dtype', 'q8', '--offset-blocks', '8bit'],
        '--offset-blocks',
      ],
      [['import', 'gguf', storiesGgufPath], '--out'],
      [['import', 'safetensors', storiesGgufPath, '--out', outDir], '"safetensors"'],
      [['import', 'gguf', join(folder, 'missing.gguf'), '--out', outDir], 'missing.gguf'],
    ]
    for (const [args, mention] of cases) {
      const run = spawnTiller(...args)
      expect({ args, status: run.status === 0, mentions: run.stderr.includes(mention) }).toEqual({
        args,
        status: false,
        mentions: true,
      })
    }
    expect(existsSync(outDir)).toBe(false)
  })
})
