import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import {
  bytesPerElement,
  decodeModel,
  elementTypeName,
  encodeModel,
  ensureOpset,
  opsetVersion,
  TensorElementType,
  tensorDims,
  toNumber,
} from '../../src/main/core/onnx/proto.ts'
import { halfToFloat, floatToHalf, halvesToFloats, floatsToHalves } from '../../src/shared/float16.ts'
import { float32Tensor, int64Tensor, tensorValues } from '../../src/main/core/onnx/tensor.ts'

const fixture = '../shared/fixtures/ortgenai-tiny-llama-fp16/model.onnx'

function readFixture(): Uint8Array {
  try {
    return readFileSync(fixture)
  } catch {
    throw new Error(`missing fixture ${fixture} (the shared/ folder must sit beside the checkout)`)
  }
}

describe('ModelProto decode/encode', () => {
  it('decodes the genai builder fixture with Long fields converted by toNumber', () => {
    const model = decodeModel(readFixture(), fixture)
    expect(toNumber(model.irVersion)).toBe(7)
    expect(model.producerName).toBe('onnxruntime-genai')
    expect(opsetVersion(model, '')).toBe(14)
    expect(opsetVersion(model, 'com.microsoft')).toBe(1)
    const embed = model.graph.initializer.find((tensor) => tensor.name === 'model.embed_tokens.weight')
    expect(embed && tensorDims(embed)).toEqual([32000, 16])
    expect(embed?.dataType).toBe(TensorElementType.float16)
    const attention = model.graph.node.filter((node) => node.opType === 'MultiHeadAttention')
    expect(attention.map((node) => node.name)).toEqual([
      '/model/layers.0/attn/MultiHeadAttention',
      '/model/layers.1/attn/MultiHeadAttention',
    ])
  })

  it('round-trips: encoding a decoded model and decoding again gives the same message', () => {
    const first = encodeModel(decodeModel(readFixture()))
    const second = encodeModel(decodeModel(first))
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true)
    const model = decodeModel(first)
    expect(model.graph.node.length).toBe(decodeModel(readFixture()).graph.node.length)
    const input = model.graph.input.find((info) => info.name === 'past_key_values.0.key')
    const dims = input?.type?.tensorType?.shape?.dim?.map((dim) => dim.dimParam || toNumber(dim.dimValue))
    expect(dims).toEqual(['batch_size', 1, 'past_sequence_length', 16])
  })

  it('keeps repeated fields mutable after decoding', () => {
    const model = decodeModel(encodeModel(decodeModel(readFixture())))
    const node = model.graph.node.find((candidate) => candidate.input.length === 0)
    expect(node).toBeDefined()
    node?.input.push('x')
    expect(node?.input).toEqual(['x'])
    ensureOpset(model, 'com.microsoft', 1)
    ensureOpset(model, 'ai.onnx.ml', 3)
    expect(opsetVersion(model, 'ai.onnx.ml')).toBe(3)
  })

  it('rejects bytes that are not a model with file-corrupt naming the source', () => {
    let caught: unknown
    try {
      decodeModel(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 'broken.onnx')
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'file-corrupt')).toBe(true)
    expect(String(caught)).toContain('broken.onnx')
  })

  it('maps element types and sizes', () => {
    expect(elementTypeName(10)).toBe('float16')
    expect(elementTypeName(7)).toBe('int64')
    expect(bytesPerElement(TensorElementType.float32)).toBe(4)
    expect(bytesPerElement(TensorElementType.int64)).toBe(8)
    expect(() => elementTypeName(99)).toThrow(/99/)
  })

  it('builds and reads tensors', () => {
    expect(Array.from(tensorValues(int64Tensor('shape', [2, -1])) as BigInt64Array)).toEqual([2n, -1n])
    expect(Array.from(tensorValues(float32Tensor('w', [0.5, -3], [2, 1])) as Float32Array)).toEqual([0.5, -3])
    expect(() => float32Tensor('w', [1, 2, 3], [2, 2])).toThrow(/w/)
  })
})

describe('float16', () => {
  it('converts known values', () => {
    expect(floatToHalf(1)).toBe(0x3c00)
    expect(floatToHalf(-2)).toBe(0xc000)
    expect(floatToHalf(65504)).toBe(0x7bff)
    expect(floatToHalf(70000)).toBe(0x7c00)
    expect(floatToHalf(0.1)).toBe(0x2e66)
    expect(floatToHalf(2 ** -24)).toBe(1)
    expect(floatToHalf(2 ** -26)).toBe(0)
    expect(floatToHalf(Number.NaN) & 0x7c00).toBe(0x7c00)
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325195, 7)
  })

  it('round-trips every finite half exactly', () => {
    const bits = new Uint16Array(65536).map((_, index) => index)
    const finite = bits.filter((value) => (value & 0x7c00) !== 0x7c00)
    const back = floatsToHalves(halvesToFloats(finite))
    expect(Buffer.from(back.buffer).equals(Buffer.from(finite.buffer))).toBe(true)
  })

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(floatToHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01)
  })
})
