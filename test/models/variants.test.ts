import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseRequestArgs } from '../../src/shared/contract.ts'
import { chooseDefaultVariant, parseVariantName } from '../../src/shared/model-variants.ts'
import { loadHookedModel } from '../../src/main/core/capture/hooked-model.ts'
import { fingerprintDifference, fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { hashFile } from '../../src/main/core/workspace/file-hash.ts'
import { describeModelFolder } from '../../src/main/core/models/discovery/model-folder.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { listModelVariants, variantGraphFile } from '../../src/main/core/models/variants.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import { resolveDecoderGraph } from '../../src/main/core/runtime/graph-path.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { runTiller } from '../helpers/cli.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

let scratch = ''

function write(folder: string, file: string, bytes: number): void {
  mkdirSync(dirname(join(folder, file)), { recursive: true })
  writeFileSync(join(folder, file), Buffer.alloc(bytes))
}

function freshFolder(): string {
  const folder = mkdtempSync(join(scratch, 'folder-'))
  writeFileSync(join(folder, 'config.json'), '{}')
  return folder
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-variants-'))
})

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
})

describe('the variants of a Transformers.js folder', () => {
  it('lists each graph with its external data files and its size on disk', () => {
    const folder = freshFolder()
    write(folder, 'onnx/model.onnx', 100)
    write(folder, 'onnx/model.onnx_data', 4000)
    write(folder, 'onnx/model.onnx_data_1', 2000)
    write(folder, 'onnx/model_q4.onnx', 300)
    write(folder, 'onnx/model_q4.onnx_data', 700)
    write(folder, 'onnx/model_q4f16.onnx', 900)
    write(folder, 'onnx/model_quantized.onnx', 1500)
    // Not a variant: a compiled steered graph and another model's data.
    write(folder, 'onnx/model_steered.onnx', 10)
    write(folder, 'onnx/model_q4.onnx_database', 10)
    const variants = listModelVariants(folder)
    expect(
      variants.map((variant) => [variant.name, variant.graphFile, variant.dataFiles, variant.sizeBytes]),
    ).toEqual([
      ['fp32', 'onnx/model.onnx', ['onnx/model.onnx_data', 'onnx/model.onnx_data_1'], 6100],
      ['q8', 'onnx/model_quantized.onnx', [], 1500],
      ['q4', 'onnx/model_q4.onnx', ['onnx/model_q4.onnx_data'], 1000],
      ['q4f16', 'onnx/model_q4f16.onnx', [], 900],
    ])
    expect(variantGraphFile(folder, 'q4')).toBe('onnx/model_q4.onnx')
    expect(variantGraphFile(folder, 'quantized')).toBe('onnx/model_quantized.onnx')
    expect(variantGraphFile(folder, 'FP32')).toBe('onnx/model.onnx')
  })

  it('finds root-level graphs (the Optimum layout) and `.data` files', () => {
    const folder = freshFolder()
    write(folder, 'model.onnx', 10)
    write(folder, 'model.onnx.data', 90)
    expect(listModelVariants(folder)).toMatchObject([
      { name: 'fp32', graphFile: 'model.onnx', dataFiles: ['model.onnx.data'], sizeBytes: 100 },
    ])
  })

  it('defaults to what config.json declares, else float32, else the smallest lossless, else the most bits', () => {
    const variant = (
      name: 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16',
      sizeBytes: number,
      lossless: boolean,
    ) => ({
      name,
      graphFile: `onnx/${name}.onnx`,
      dataFiles: [],
      sizeBytes,
      lossless,
      description: '',
    })
    const all = [
      variant('fp32', 400, true),
      variant('fp16', 200, true),
      variant('q8', 100, false),
      variant('q4', 60, false),
    ]
    expect(chooseDefaultVariant(all, undefined)).toEqual({
      name: 'fp32',
      reason: expect.stringMatching(/float32/),
    })
    expect(chooseDefaultVariant(all, 'q4')).toEqual({
      name: 'q4',
      reason: expect.stringMatching(/config\.json/),
    })
    // A declared dtype the folder does not have falls back to the rule.
    expect(chooseDefaultVariant(all.slice(1), 'fp32')?.name).toBe('fp16')
    expect(chooseDefaultVariant(all.slice(1), undefined)?.reason).toMatch(
      /smallest one with unquantized weights/,
    )
    expect(chooseDefaultVariant([variant('q4f16', 50, false), variant('q4', 60, false)], undefined)).toEqual({
      name: 'q4',
      reason: 'only quantized graphs; the one with the most bits per weight',
    })
    expect(chooseDefaultVariant([], undefined)).toBeUndefined()
    expect(parseVariantName('float16')).toBe('fp16')
    expect(parseVariantName('q3')).toBeUndefined()
  })

  it('model:load takes a variant name from the list and refuses others', () => {
    expect(parseRequestArgs('model:load', { path: '/models/tiny', variant: 'q4' })).toEqual({
      path: '/models/tiny',
      variant: 'q4',
    })
    expect(parseRequestArgs('model:load', { path: '/models/tiny' })).toEqual({ path: '/models/tiny' })
    expect(() => parseRequestArgs('model:load', { path: '/models/tiny', variant: 'q3' })).toThrow(/variant/)
  })

  it('the runtime loads the default variant, and refuses a variant the folder lacks, listing what it has', () => {
    const folder = freshFolder()
    write(folder, 'onnx/model_fp16.onnx', 10)
    write(folder, 'onnx/model_q4.onnx', 5)
    expect(resolveDecoderGraph(folder, undefined)).toBe(join(folder, 'onnx/model_fp16.onnx'))
    expect(resolveDecoderGraph(folder, undefined, undefined, 'q4')).toBe(join(folder, 'onnx/model_q4.onnx'))
    const refused = (() => {
      try {
        return variantGraphFile(folder, 'int8')
      } catch (error) {
        return error
      }
    })()
    expect(isTillerError(refused, 'invalid-argument')).toBe(true)
    expect((refused as Error).message).toBe(
      `${folder} has no int8 variant (onnx/model_int8.onnx); it has fp16 (0.0 MB), q4 (0.0 MB).`,
    )
    expect(() => variantGraphFile(folder, 'q3')).toThrow(/Variant "q3" is not one of fp32, fp16, q8/)
  })
})

describe('a tiny model folder with float32 and q4 graphs', () => {
  let folder = ''

  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'optimum' })
    const quantized = await buildTinyModel({ family: 'optimum', dtype: 'q4' })
    for (const file of ['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'])
      copyFileSync(join(quantized, file), join(folder, file))
    rmSync(dirname(quantized), { recursive: true, force: true })
    // Without a declared dtype the rule picks the float32 graph.
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>
    delete config['transformers.js_config']
    writeFileSync(join(folder, 'config.json'), JSON.stringify(config))
  })

  afterAll(() => {
    rmSync(dirname(folder), { recursive: true, force: true })
  })

  it('loads the chosen variant, and hooks compile against that variant', async () => {
    const model = await loadModel(folder, { provider: 'cpu', variant: 'q4' })
    try {
      expect(model.graphPath).toBe(join(folder, 'onnx/model_q4.onnx'))
      expect(model.baseGraphFile).toBe('onnx/model_q4.onnx')
      expect(model.info.variant).toBe('q4')
      const hooked = await loadHookedModel(model, 'resid_post', [0])
      try {
        expect(hooked.baseGraphFile).toBe('onnx/model_q4.onnx')
        const { model: graph } = await loadGraph(hooked.graphPath)
        expect(graph.graph.node.some((node) => node.opType === 'MatMulNBits')).toBe(true)
        expect(graph.graph.output.map((output) => output.name)).toContain('hook.resid_post.0')
      } finally {
        await hooked.dispose()
      }
    } finally {
      await model.dispose()
    }
  })

  it('fingerprints each variant by its own weights: the recorded hash for the exported graph, else its data', async () => {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as {
      tiller: { weightsHash: string }
    }
    const float = await fingerprintModel(folder)
    expect(float.weightsHash).toBe(config.tiller.weightsHash)
    expect((await fingerprintModel(folder, 'onnx/model.onnx')).weightsHash).toBe(config.tiller.weightsHash)
    const quantized = await fingerprintModel(folder, 'onnx/model_q4.onnx')
    expect(quantized.weightsHash).toBe(await hashFile(join(folder, 'onnx/model_q4.onnx_data')))
    expect({ ...quantized, weightsHash: '' }).toEqual({ ...float, weightsHash: '' })
    expect(fingerprintDifference(float, quantized)).toBe('weightsHash')
    const model = await loadModel(folder, { provider: 'cpu', variant: 'q4' })
    try {
      expect(await fingerprintModel(model.folder, model.baseGraphFile)).toEqual(quantized)
    } finally {
      await model.dispose()
    }
  })

  it('discovery lists the variants with their sizes and the default with its reason', async () => {
    const described = await describeModelFolder(folder, 'folder')
    expect(described?.variants?.map((variant) => variant.name)).toEqual(['fp32', 'q4'])
    const [float, quantized] = described?.variants ?? []
    expect(quantized?.sizeBytes).toBeLessThan(float?.sizeBytes ?? 0)
    expect(described?.defaultVariant).toEqual({
      name: 'fp32',
      reason: 'the float32 graph is the reference: no rounding of weights or activations',
    })
  })

  it('`tiller generate --variant q4` runs the q4 graph and says so; without it, float32 and why', async () => {
    const common = [
      'generate',
      '--model',
      folder,
      '--prompt',
      'ab',
      '--max-tokens',
      '3',
      '--temperature',
      '0',
    ]
    const quantized = await runTiller([...common, '--variant', 'q4', '--json'])
    expect(quantized.code).toBe(0)
    expect(quantized.stderr).toMatch(/^note: variant q4 \(onnx\/model_q4\.onnx, \d+\.\d MB\)$/m)
    expect((JSON.parse(quantized.stdout) as { generatedTokens: number[] }).generatedTokens).toHaveLength(3)
    const plain = await runTiller([...common, '--json'])
    expect(plain.code).toBe(0)
    expect(plain.stderr).toMatch(
      /note: variant fp32 \(onnx\/model\.onnx, \d+\.\d MB\): the float32 graph is the reference.*; also q4 \(\d+\.\d MB\) — choose with --variant/,
    )
    const inspected = await runTiller(['inspect', '--model', folder, '--variant', 'q4'])
    expect(inspected.code).toBe(0)
    expect(inspected.stdout).toMatch(
      /^.*onnx\/model_q4\.onnx: optimum family, float32 activations, \d+ layers$/m,
    )
    expect(inspected.stdout).toMatch(
      /^variants: fp32 onnx\/model\.onnx \d+\.\d MB \(default\), q4 onnx\/model_q4\.onnx \d+\.\d MB$/m,
    )
    const missing = await runTiller([...common, '--variant', 'fp16'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(
      /has no fp16 variant \(onnx\/model_fp16\.onnx\); it has fp32 \(.*\), q4 \(.*\)\.\n$/,
    )
  })
})
