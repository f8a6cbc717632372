import { floatToHalf, halfToFloat } from '../../../src/shared/float16.ts'
import { affineLevels, nearestInt, symmetricLevels, threeBitLevels } from './quantize-search.ts'

/**
 * Reference K-quant encoders for tests, following ggml's quantize_row_q{2..6}_K_ref: per sub-block scale (and
 * minimum) search, the sub-block scales quantized against one float16 super-block scale, the values re-quantized
 * with the scales as stored, then packed in ggml's byte layout (see dequantize-k.ts for the layouts).
 * Input float32 `[elements]` (a multiple of 256) -> raw super-block bytes.
 */

const superBlock = 256

function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(high, value))
}

function superBlocks(values: Float32Array, bytesPerBlock: number): { count: number; bytes: Uint8Array } {
  if (values.length % superBlock !== 0) throw new Error(`${values.length} values are not whole super-blocks`)
  const count = values.length / superBlock
  return { count, bytes: new Uint8Array(count * bytesPerBlock) }
}

function writeHalf(bytes: Uint8Array, offset: number, value: number): number {
  const bits = floatToHalf(value)
  bytes[offset] = bits & 0xff
  bytes[offset + 1] = bits >> 8
  return halfToFloat(bits)
}

/** 2-bit levels `[256]` -> 64 bytes: byte l of each 32-byte run holds elements l, l+32, l+64, l+96. */
function packTwoBit(levels: ArrayLike<number>, bytes: Uint8Array, offset: number): void {
  for (let half = 0; half < 2; half++) {
    for (let l = 0; l < 32; l++) {
      const at = 128 * half + l
      bytes[offset + 32 * half + l] =
        (levels[at] as number) |
        ((levels[at + 32] as number) << 2) |
        ((levels[at + 64] as number) << 4) |
        ((levels[at + 96] as number) << 6)
    }
  }
}

export function quantizeQ2_K(values: Float32Array): Uint8Array {
  const { count, bytes } = superBlocks(values, 84)
  const levels = new Uint8Array(superBlock)
  for (let block = 0; block < count; block++) {
    const x = values.subarray(block * superBlock, (block + 1) * superBlock)
    const start = block * 84
    const scales: number[] = []
    const minimums: number[] = []
    for (let sub = 0; sub < 16; sub++) {
      const group = x.subarray(16 * sub, 16 * sub + 16)
      const weights = Float64Array.from(group, Math.abs)
      const fit = affineLevels(group, weights, 3, levels.subarray(16 * sub, 16 * sub + 16), {
        start: -0.5,
        delta: 0.1,
        steps: 15,
        absoluteError: true,
      })
      scales.push(fit.scale)
      minimums.push(fit.minimum)
    }
    const largestScale = Math.max(0, ...scales)
    const largestMinimum = Math.max(0, ...minimums)
    for (let sub = 0; sub < 16; sub++) {
      const scale = largestScale > 0 ? nearestInt((15 / largestScale) * (scales[sub] as number)) : 0
      const minimum = largestMinimum > 0 ? nearestInt((15 / largestMinimum) * (minimums[sub] as number)) : 0
      bytes[start + sub] = (scale & 0x0f) | ((minimum & 0x0f) << 4)
    }
    const scale = writeHalf(bytes, start + 80, largestScale > 0 ? largestScale / 15 : 0)
    const minimumScale = writeHalf(bytes, start + 82, largestMinimum > 0 ? largestMinimum / 15 : 0)
    for (let sub = 0; sub < 16; sub++) {
      const step = scale * ((bytes[start + sub] as number) & 0x0f)
      if (step === 0) continue
      const offset = minimumScale * ((bytes[start + sub] as number) >> 4)
      for (let l = 0; l < 16; l++) {
        levels[16 * sub + l] = clamp(nearestInt(((x[16 * sub + l] as number) + offset) / step), 0, 3)
      }
    }
    packTwoBit(levels, bytes, start + 16)
  }
  return bytes
}

export function quantizeQ3_K(values: Float32Array): Uint8Array {
  const { count, bytes } = superBlocks(values, 110)
  const levels = new Uint8Array(superBlock)
  for (let block = 0; block < count; block++) {
    const x = values.subarray(block * superBlock, (block + 1) * superBlock)
    const start = block * 110
    const scales: number[] = []
    let extreme = 0
    for (let sub = 0; sub < 16; sub++) {
      const scale = threeBitLevels(
        x.subarray(16 * sub, 16 * sub + 16),
        levels.subarray(16 * sub, 16 * sub + 16),
      )
      scales.push(scale)
      if (Math.abs(scale) > Math.abs(extreme)) extreme = scale
    }
    let superScale = 0
    if (extreme !== 0) {
      const inverse = -32 / extreme
      for (let sub = 0; sub < 16; sub++) {
        const level = clamp(nearestInt(inverse * (scales[sub] as number)), -32, 31) + 32
        if (sub < 8) bytes[start + 96 + sub] = level & 0x0f
        else bytes[start + 96 + sub - 8] = (bytes[start + 96 + sub - 8] as number) | ((level & 0x0f) << 4)
        const spare = start + 96 + 8 + (sub % 4)
        bytes[spare] = (bytes[spare] as number) | ((level >> 4) << (2 * Math.floor(sub / 4)))
      }
      superScale = writeHalf(bytes, start + 108, 1 / inverse)
    }
    for (let sub = 0; sub < 16; sub++) {
      const low =
        sub < 8 ? (bytes[start + 96 + sub] as number) & 0x0f : (bytes[start + 88 + sub] as number) >> 4
      const high = ((bytes[start + 104 + (sub % 4)] as number) >> (2 * Math.floor(sub / 4))) & 3
      const step = superScale * ((low | (high << 4)) - 32)
      if (step === 0) continue
      for (let l = 0; l < 16; l++) {
        levels[16 * sub + l] = clamp(nearestInt((x[16 * sub + l] as number) / step), -4, 3) + 4
      }
    }
    // The third bit of element j goes to bit floor(j / 32) of hmask[j % 32].
    for (let index = 0; index < superBlock; index++) {
      if ((levels[index] as number) > 3) {
        bytes[start + (index % 32)] = (bytes[start + (index % 32)] as number) | (1 << Math.floor(index / 32))
        levels[index] = (levels[index] as number) - 4
      }
    }
    packTwoBit(levels, bytes, start + 32)
  }
  return bytes
}

/** Q4_K/Q5_K: eight 32-element sub-blocks with 6-bit scales and mins in the get_scale_min_k4 packing. */
function quantizeAffineK(values: Float32Array, bits: 4 | 5): Uint8Array {
  const bytesPerBlock = bits === 4 ? 144 : 176
  const maximumLevel = (1 << bits) - 1
  const search =
    bits === 4
      ? { start: -1, delta: 0.1, steps: 20, absoluteError: false }
      : { start: -0.5, delta: 0.1, steps: 15, absoluteError: false }
  const { count, bytes } = superBlocks(values, bytesPerBlock)
  const levels = new Uint8Array(superBlock)
  for (let block = 0; block < count; block++) {
    const x = values.subarray(block * superBlock, (block + 1) * superBlock)
    const start = block * bytesPerBlock
    const scales: number[] = []
    const minimums: number[] = []
    for (let sub = 0; sub < 8; sub++) {
      const group = x.subarray(32 * sub, 32 * sub + 32)
      const spread = Math.sqrt(group.reduce((sum, value) => sum + value * value, 0) / 32)
      const weights = Float64Array.from(group, (value) => spread + Math.abs(value))
      const fit = affineLevels(group, weights, maximumLevel, levels.subarray(32 * sub, 32 * sub + 32), search)
      scales.push(fit.scale)
      minimums.push(fit.minimum)
    }
    const largestScale = Math.max(0, ...scales)
    const largestMinimum = Math.max(0, ...minimums)
    const packed = start + 4
    for (let sub = 0; sub < 8; sub++) {
      const scale = Math.min(
        63,
        largestScale > 0 ? nearestInt((63 / largestScale) * (scales[sub] as number)) : 0,
      )
      const minimum = Math.min(
        63,
        largestMinimum > 0 ? nearestInt((63 / largestMinimum) * (minimums[sub] as number)) : 0,
      )
      if (sub < 4) {
        bytes[packed + sub] = scale
        bytes[packed + sub + 4] = minimum
      } else {
        bytes[packed + sub + 4] = (scale & 0x0f) | ((minimum & 0x0f) << 4)
        bytes[packed + sub - 4] = (bytes[packed + sub - 4] as number) | ((scale >> 4) << 6)
        bytes[packed + sub] = (bytes[packed + sub] as number) | ((minimum >> 4) << 6)
      }
    }
    const superScale = writeHalf(bytes, start, largestScale / 63)
    const minimumScale = writeHalf(bytes, start + 2, largestMinimum / 63)
    for (let sub = 0; sub < 8; sub++) {
      const scale =
        sub < 4
          ? (bytes[packed + sub] as number) & 63
          : ((bytes[packed + sub + 4] as number) & 0x0f) | (((bytes[packed + sub - 4] as number) >> 6) << 4)
      const minimum =
        sub < 4
          ? (bytes[packed + sub + 4] as number) & 63
          : ((bytes[packed + sub + 4] as number) >> 4) | (((bytes[packed + sub] as number) >> 6) << 4)
      const step = superScale * scale
      if (step === 0) continue
      const offset = minimumScale * minimum
      for (let l = 0; l < 32; l++) {
        levels[32 * sub + l] = clamp(
          nearestInt(((x[32 * sub + l] as number) + offset) / step),
          0,
          maximumLevel,
        )
      }
    }
    const nibbles = start + (bits === 4 ? 16 : 48)
    for (let chunk = 0; chunk < 4; chunk++) {
      for (let l = 0; l < 32; l++) {
        const first = levels[64 * chunk + l] as number
        const second = levels[64 * chunk + 32 + l] as number
        bytes[nibbles + 32 * chunk + l] = (first & 0x0f) | ((second & 0x0f) << 4)
        if (bits === 5) {
          // Fifth bits: bit 2 * chunk of qh[l] for the first run, bit 2 * chunk + 1 for the second.
          const high = ((first >> 4) << (2 * chunk)) | ((second >> 4) << (2 * chunk + 1))
          bytes[start + 16 + l] = (bytes[start + 16 + l] as number) | high
        }
      }
    }
  }
  return bytes
}

export function quantizeQ4_K(values: Float32Array): Uint8Array {
  return quantizeAffineK(values, 4)
}

export function quantizeQ5_K(values: Float32Array): Uint8Array {
  return quantizeAffineK(values, 5)
}

export function quantizeQ6_K(values: Float32Array): Uint8Array {
  const { count, bytes } = superBlocks(values, 210)
  const levels = new Uint8Array(superBlock)
  for (let block = 0; block < count; block++) {
    const x = values.subarray(block * superBlock, (block + 1) * superBlock)
    const start = block * 210
    const scales: number[] = []
    let extreme = 0
    for (let sub = 0; sub < 16; sub++) {
      const scale = symmetricLevels(
        x.subarray(16 * sub, 16 * sub + 16),
        32,
        levels.subarray(16 * sub, 16 * sub + 16),
      )
      scales.push(scale)
      if (Math.abs(scale) > Math.abs(extreme)) extreme = scale
    }
    if (Math.abs(extreme) < 1e-15) continue
    const inverse = -128 / extreme
    const superScale = writeHalf(bytes, start + 208, 1 / inverse)
    for (let sub = 0; sub < 16; sub++) {
      const scale = Math.min(127, nearestInt(inverse * (scales[sub] as number)))
      bytes[start + 192 + sub] = scale & 0xff
      const step = superScale * scale
      if (step === 0) continue
      for (let l = 0; l < 16; l++) {
        levels[16 * sub + l] = clamp(nearestInt((x[16 * sub + l] as number) / step), -32, 31) + 32
      }
    }
    for (let half = 0; half < 2; half++) {
      for (let l = 0; l < 32; l++) {
        const at = 128 * half + l
        const [q1, q2, q3, q4] = [0, 32, 64, 96].map((shift) => levels[at + shift] as number) as [
          number,
          number,
          number,
          number,
        ]
        bytes[start + 64 * half + l] = (q1 & 0x0f) | ((q3 & 0x0f) << 4)
        bytes[start + 64 * half + l + 32] = (q2 & 0x0f) | ((q4 & 0x0f) << 4)
        bytes[start + 128 + 32 * half + l] =
          (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
      }
    }
  }
  return bytes
}
