import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { resolveGraphPath } from '../../src/main/core/models/locator/graph-file.ts'
import { decoderGraphCandidates, resolveDecoderGraph } from '../../src/main/core/runtime/graph-path.ts'
import { readModelConfig } from '../../src/main/core/runtime/model-config.ts'

let folder: string

function touch(...files: string[]): void {
  for (const file of files) {
    mkdirSync(dirname(join(folder, file)), { recursive: true })
    writeFileSync(join(folder, file), '')
  }
}

const sizes = { num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 320 }

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'tiller-graph-path-'))
})

afterEach(() => {
  rmSync(folder, { recursive: true, force: true })
})

describe('decoder graph search order, shared by the runtime and the locator', () => {
  it("prefers the file config.json's Transformers.js dtype names", () => {
    writeFileSync(
      join(folder, 'config.json'),
      JSON.stringify({
        ...sizes,
        hidden_size: 32,
        max_position_embeddings: 128,
        'transformers.js_config': { dtype: 'fp16' },
      }),
    )
    touch('onnx/model.onnx', 'onnx/model_fp16.onnx')
    const config = readModelConfig(folder)
    expect(decoderGraphCandidates(config).slice(0, 3)).toEqual([
      'onnx/model_fp16.onnx',
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
    ])
    expect(resolveGraphPath(folder)).toBe(join(folder, 'onnx/model_fp16.onnx'))
    expect(resolveGraphPath(folder)).toBe(resolveDecoderGraph(folder, config))
  })

  it('looks at onnx/model.onnx before the genai decoder file, as the runtime loads it', () => {
    writeFileSync(
      join(folder, 'genai_config.json'),
      JSON.stringify({
        model: {
          type: 'llama',
          vocab_size: 320,
          context_length: 128,
          decoder: { ...sizes, hidden_size: 32, filename: 'decoder.onnx' },
        },
      }),
    )
    touch('decoder.onnx')
    expect(resolveGraphPath(folder)).toBe(join(folder, 'decoder.onnx'))
    touch('onnx/model.onnx')
    expect(resolveGraphPath(folder)).toBe(join(folder, 'onnx/model.onnx'))
    expect(resolveGraphPath(folder)).toBe(resolveDecoderGraph(folder, readModelConfig(folder)))
  })

  it('searches the fixed names without a configuration and names every place it looked', () => {
    touch('model.onnx')
    expect(resolveGraphPath(folder)).toBe(join(folder, 'model.onnx'))
    expect(resolveGraphPath(folder, 'model.onnx')).toBe(join(folder, 'model.onnx'))
    rmSync(join(folder, 'model.onnx'))
    const missing = (() => {
      try {
        return resolveGraphPath(folder)
      } catch (error) {
        return error
      }
    })()
    expect(isTillerError(missing, 'invalid-model-folder')).toBe(true)
    expect((missing as Error).message).toContain(
      'onnx/model.onnx, onnx/model_fp16.onnx, onnx/model_quantized.onnx',
    )
    expect((missing as Error).message).toMatch(/onnx\/model_bnb4\.onnx, model\.onnx\)/)
    expect(() => resolveGraphPath(folder, 'steered.onnx')).toThrow(/steered\.onnx does not exist/)
  })
})
