import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { describe, expect, it } from 'vitest'

import {
  decodeQuantizedGroups,
  groupsAreFinite,
  hasQuantizedGroups,
  legacyGroupValues,
} from '../../src/main/core/models/importers/gguf/block-decode.ts'
import { blockDequantizer } from '../../src/main/core/models/importers/gguf/dequantize.ts'
import { quantize, quantizers } from './helpers/quantize.ts'

/**
 * data/ggml-reference-blocks.json holds, for 512 inputs (normal, σ = 0.02, with an all-positive stretch and an
 * all-zero group), the bytes ggml's own quantize_row_*_ref wrote and the floats its dequantize_row_* returned for
 * every type Tiller reads (produced by data/ggml-reference-blocks.c linked against ggml's ggml-quants.c).
 */
interface ReferenceBlocks {
  inputs: string
  types: { type: string; bytes: string; values: string }[]
}

const reference = JSON.parse(
  readFileSync(join(import.meta.dirname, 'data', 'ggml-reference-blocks.json'), 'utf8'),
) as ReferenceBlocks

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16))
}

function hexFloats(hex: string): Float32Array {
  const words = Uint32Array.from(hex.match(/.{8}/g) ?? [], (word) => parseInt(word, 16))
  return new Float32Array(words.buffer)
}

function typeId(name: string): GGMLQuantizationType {
  const id = (GGMLQuantizationType as unknown as Record<string, number | undefined>)[name]
  if (id === undefined) throw new Error(`unknown GGML type ${name}`)
  return id
}

const inputs = hexFloats(reference.inputs)

describe('against ggml itself', () => {
  it('covers every block type Tiller reads', () => {
    expect(reference.types.map(({ type }) => typeId(type)).sort()).toEqual([...quantizers.keys()].sort())
    expect(inputs).toHaveLength(512)
  })

  for (const { type, bytes, values } of reference.types) {
    it(`${type}: dequantizes ggml's bytes to ggml's floats bit for bit, and encodes the same bytes`, () => {
      const id = typeId(type)
      const dequantize = blockDequantizer(id)
      if (dequantize === undefined) throw new Error(`no dequantizer for ${type}`)
      const decoded = dequantize(hexBytes(bytes), 512)
      const expected = hexFloats(values)
      const mismatches = Array.from(decoded).filter((value, index) => !Object.is(value, expected[index]))
      expect(mismatches).toEqual([])
      expect(Array.from(quantize(id, inputs))).toEqual(Array.from(hexBytes(bytes)))
    })
  }
})

describe('group decode (scales, offsets, unsigned quants) for quantized writers', () => {
  for (const { type, bytes } of reference.types.filter(({ type }) => hasQuantizedGroups(typeId(type)))) {
    it(`${type}: scale * (q - zero point) + offset is the dequantized value`, () => {
      const id = typeId(type)
      const raw = hexBytes(bytes)
      const groups = decodeQuantizedGroups(id, raw, 512)
      const floats = blockDequantizer(id)?.(raw, 512) ?? new Float32Array()
      expect(groups.quants.every((quant) => quant < 2 ** groups.bits)).toBe(true)
      const rebuilt = Float32Array.from(groups.quants, (quant, index) => {
        const group = Math.floor(index / groups.groupSize)
        const scaled = (groups.scales[group] as number) * (quant - groups.zeroPoint)
        return groups.offsets === undefined ? scaled : scaled + (groups.offsets[group] as number)
      })
      expect(Array.from(rebuilt)).toEqual(Array.from(floats))
    })
  }

  const legacyTypes = [
    ['Q4_0', GGMLQuantizationType.Q4_0, 18],
    ['Q4_1', GGMLQuantizationType.Q4_1, 20],
    ['Q5_0', GGMLQuantizationType.Q5_0, 22],
    ['Q5_1', GGMLQuantizationType.Q5_1, 24],
    ['Q8_0', GGMLQuantizationType.Q8_0, 34],
  ] as const
  for (const [name, id, blockBytes] of legacyTypes) {
    it(`${name}: values from the groups equal the dequantizer's bit for bit, negative zeros included`, () => {
      // Random blocks whose float16 scales (and minimums) are finite, of either sign: q = zero point then gives −0.
      let state = 12345
      const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 16
      const blocks = 64
      const raw = Uint8Array.from({ length: blocks * blockBytes }, () => next() & 0xff)
      for (let block = 0; block < blocks; block++) {
        for (const at of [0, 2])
          raw[block * blockBytes + at + 1] = ((raw[block * blockBytes + at + 1] as number) & 0xbb) | 0x10
      }
      const groups = decodeQuantizedGroups(id, raw, blocks * 32)
      const values = legacyGroupValues(id, groups) ?? new Float32Array()
      const floats = blockDequantizer(id)?.(raw, blocks * 32) ?? new Float32Array(1)
      expect(values.length).toBe(floats.length)
      const differing = Array.from(values).filter((value, index) => !Object.is(value, floats[index]))
      expect(differing).toEqual([])
      expect(Array.from(values).some((value) => Object.is(value, -0))).toBe(!name.endsWith('_1'))
      expect(groupsAreFinite(groups)).toBe(true)
      // The same bytes at an odd offset of their buffer (Q8_0 then decodes a byte at a time, not in pairs).
      const shifted = new Uint8Array(raw.length + 1)
      shifted.set(raw, 1)
      const unaligned = decodeQuantizedGroups(id, shifted.subarray(1), blocks * 32)
      expect(Array.from(unaligned.quants)).toEqual(Array.from(groups.quants))
      expect(Array.from(unaligned.scales)).toEqual(Array.from(groups.scales))
    })
  }

  it('the K-quants have no values from groups; a damaged scale makes groups non-finite', () => {
    const raw = quantize(GGMLQuantizationType.Q8_0, inputs)
    const groups = decodeQuantizedGroups(GGMLQuantizationType.Q8_0, raw, 512)
    expect(groupsAreFinite(groups)).toBe(true)
    raw[34 * 3 + 1] = 0x7c
    raw[34 * 3] = 0x00
    expect(groupsAreFinite(decodeQuantizedGroups(GGMLQuantizationType.Q8_0, raw, 512))).toBe(false)
    const k = reference.types.find(({ type }) => type === 'Q4_K')
    const kGroups = decodeQuantizedGroups(GGMLQuantizationType.Q4_K, hexBytes(k?.bytes ?? ''), 512)
    expect(legacyGroupValues(GGMLQuantizationType.Q4_K, kGroups)).toBeUndefined()
  })

  it('Q4_0 maps to 4-bit groups of 32 with zero point 8 and no offsets', () => {
    const groups = decodeQuantizedGroups(
      GGMLQuantizationType.Q4_0,
      quantize(GGMLQuantizationType.Q4_0, inputs),
      512,
    )
    expect({
      size: groups.groupSize,
      bits: groups.bits,
      zero: groups.zeroPoint,
      offsets: groups.offsets,
    }).toEqual({
      size: 32,
      bits: 4,
      zero: 8,
      offsets: undefined,
    })
    expect(() => decodeQuantizedGroups(GGMLQuantizationType.Q6_K, new Uint8Array(210), 256)).toThrow(
      RangeError,
    )
  })
})

/** Deterministic standard normal values (Box-Muller over a linear congruential generator). */
function normalValues(length: number, seed: number, sigma: number): Float32Array {
  let state = seed >>> 0
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return (state + 1) / 2 ** 32
  }
  return Float32Array.from(
    { length },
    () => sigma * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  )
}

// Relative RMS error bounds on normal weights, 1.3-1.5x what these encoders measure (the printed table), in
// ggml's order of precision.
const relativeErrorBounds: [string, number][] = [
  ['Q8_0', 0.008],
  ['Q6_K', 0.025],
  ['Q5_1', 0.05],
  ['Q5_K', 0.05],
  ['Q5_0', 0.055],
  ['Q4_K', 0.095],
  ['IQ4_XS', 0.1],
  ['IQ4_NL', 0.1],
  ['Q4_1', 0.1],
  ['Q4_0', 0.11],
  ['Q3_K', 0.2],
  ['Q2_K', 0.38],
]

describe('round trip of random normal weights', () => {
  const weights = normalValues(256 * 256, 11, 0.02)
  const measured = new Map<string, number>()
  for (const [type, bound] of relativeErrorBounds) {
    const id = typeId(type)
    const restored = blockDequantizer(id)?.(quantize(id, weights), weights.length) ?? new Float32Array()
    let errorSquares = 0
    let valueSquares = 0
    weights.forEach((value, index) => {
      errorSquares += (value - (restored[index] as number)) ** 2
      valueSquares += value * value
    })
    const relative = Math.sqrt(errorSquares / valueSquares)
    measured.set(type, relative)
    it(`${type}: relative RMS error ${relative.toFixed(4)} <= ${bound}`, () => {
      expect(relative).toBeLessThanOrEqual(bound)
      expect(relative).toBeGreaterThan(0)
    })
  }

  it('orders the K-quants and Q8_0 by precision: Q8_0 < Q6_K < Q5_K < Q4_K < Q3_K < Q2_K', () => {
    const order = ['Q8_0', 'Q6_K', 'Q5_K', 'Q4_K', 'Q3_K', 'Q2_K'].map((type) => measured.get(type) ?? NaN)
    for (let index = 1; index < order.length; index++) {
      expect(order[index]).toBeGreaterThan(order[index - 1] as number)
    }
    process.stdout.write(
      `relative RMS error on N(0, 0.02²) weights: ${[...measured].map(([type, value]) => `${type} ${value.toFixed(4)}`).join(', ')}\n`,
    )
  })
})
