import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { externalDataInfo, loadModel } from '../../src/main/core/onnx/external-data.ts'
import { TensorElementType } from '../../src/main/core/onnx/proto.ts'
import { isExternal } from '../../src/main/core/onnx/tensor.ts'
import { tinyCheckpoint } from '../helpers/tiny-models.ts'

/**
 * q4/q8 exports store the token embedding as the blocks a tied head multiplies with, read by com.microsoft
 * GatherBlockQuantized: the table costs its quantized size once, not its float size beside a quantized copy.
 * (That the gathered values are the blocks' exact values: quantized-requantize.test.ts.)
 */
describe('the embedding of quantized exports', () => {
  let scratch = ''
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-gathered-'))
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  const checkpoint = tinyCheckpoint({
    config: { hiddenSize: 64, intermediateSize: 96, headDim: 16 },
    seed: 3,
  })
  const tokenizer = byteTokenizerFiles(checkpoint.config.vocabSize)

  it.each(['q4', 'q8'] as const)(
    '%s: a tied head and the lookup read the same bytes, written once',
    async (dtype) => {
      const folder = join(scratch, dtype)
      await exportModelFolder(checkpoint, tokenizer, folder, { family: 'builder', dtype, compute: 'int8' })
      const graphFile = join(folder, 'onnx', dtype === 'q4' ? 'model_q4.onnx' : 'model_quantized.onnx')
      const { model } = await loadModel(graphFile)
      const gathers = model.graph.node.filter((node) => node.opType === 'GatherBlockQuantized')
      expect(gathers).toHaveLength(1)
      expect(model.graph.node.some((node) => node.opType === 'Gather' && node.name.includes('embed'))).toBe(
        false,
      )
      const head = model.graph.node.find((node) => node.name === '/lm_head/MatMulNBits')
      const initializers = new Map(model.graph.initializer.map((tensor) => [tensor.name, tensor]))
      const bytesOf = (name: string | undefined) => {
        const tensor = initializers.get(name ?? '')
        if (tensor === undefined || !isExternal(tensor))
          throw new Error(`${name} is not an external initializer`)
        const { offset, length } = externalDataInfo(tensor)
        return { offset, length }
      }
      // data, scales and zero points: the lookup's inputs 0, 2, 3 are views of the head's inputs 1, 2, 3.
      const gather = gathers[0]
      for (const [lookupInput, headInput] of [
        [0, 1],
        [2, 2],
        [3, 3],
      ] as const) {
        expect(bytesOf(gather?.input[lookupInput])).toEqual(bytesOf(head?.input[headInput]))
      }
      // No float table beside the blocks; each byte range written once (appends are padded to alignment).
      const { vocabSize, hiddenSize } = checkpoint.config
      const tables = model.graph.initializer.filter(
        (tensor) =>
          tensor.dataType === TensorElementType.float32 &&
          tensor.dims.map(Number).join(',') === `${vocabSize},${hiddenSize}`,
      )
      expect(tables).toEqual([])
      const ranges = new Map<number, number>()
      for (const tensor of model.graph.initializer) {
        if (!isExternal(tensor)) continue
        const { offset, length } = externalDataInfo(tensor)
        ranges.set(offset, Math.max(length, ranges.get(offset) ?? 0))
      }
      const stored = [...ranges.values()].reduce((total, length) => total + length, 0)
      const size = statSync(`${graphFile}_data`).size
      expect(size).toBeGreaterThanOrEqual(stored)
      expect(size - stored).toBeLessThan(64 * ranges.size)
    },
  )
})
