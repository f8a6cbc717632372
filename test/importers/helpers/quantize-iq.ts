import { floatToHalf } from '../../../src/shared/float16.ts'
import { iq4Codebook } from '../../../src/main/core/models/importers/gguf/dequantize-iq.ts'
import { nearestCodebookIndex, nearestInt } from './quantize-search.ts'

/**
 * Reference IQ4_NL / IQ4_XS encoders for tests (ggml's quantize_row_iq4_nl_ref and quantize_iq4_xs without an
 * importance matrix): per 32-element group a scale fitted by weighted least squares (weights x²) over the
 * codebook, searching 15 nearby scales for IQ4_XS; IQ4_XS then quantizes the group scales to 6 bits against one
 * float16 super-block scale and re-picks the codebook entries with the stored scale.
 */

/** One group's scale and codebook indices; `tries` nearby inverse scales are searched on top of the first fit. */
function fitGroup(values: Float32Array, indices: Uint8Array, tries: number): number {
  let extreme = 0
  for (const value of values) if (Math.abs(value) > Math.abs(extreme)) extreme = value
  // ggml leaves an all-zero group's indices as they were (the previous group's, for IQ4_NL); its scale is 0.
  if (Math.abs(extreme) < 1e-15) return 0
  const first = iq4Codebook[0] as number
  const score = (inverse: number, store: boolean) => {
    let cross = 0
    let squares = 0
    for (let index = 0; index < values.length; index++) {
      const value = values[index] as number
      const level = nearestCodebookIndex(iq4Codebook, inverse * value)
      if (store) indices[index] = level
      const q = iq4Codebook[level] as number
      const weight = value * value
      cross += weight * q * value
      squares += weight * q * q
    }
    return { cross, squares }
  }
  const initial = tries > 0 ? -extreme / first : extreme / first
  const fitted = score(1 / initial, true)
  let scale = fitted.squares > 0 ? fitted.cross / fitted.squares : 0
  let best = scale * fitted.cross
  for (let attempt = -tries; attempt <= tries; attempt++) {
    const { cross, squares } = score((attempt + first) / extreme, false)
    if (squares > 0 && cross * cross > best * squares) {
      scale = cross / squares
      best = scale * cross
    }
  }
  return scale
}

function packNibbles(indices: Uint8Array, bytes: Uint8Array, offset: number): void {
  for (let group = 0; group < indices.length / 32; group++) {
    for (let j = 0; j < 16; j++) {
      bytes[offset + 16 * group + j] =
        (indices[32 * group + j] as number) | ((indices[32 * group + 16 + j] as number) << 4)
    }
  }
}

/** float32 `[elements]` -> IQ4_NL bytes `[elements / 32 * 18]`. */
export function quantizeIQ4_NL(values: Float32Array): Uint8Array {
  const blocks = values.length / 32
  const bytes = new Uint8Array(blocks * 18)
  const indices = new Uint8Array(32)
  for (let block = 0; block < blocks; block++) {
    const scale = fitGroup(values.subarray(32 * block, 32 * block + 32), indices, -1)
    const bits = floatToHalf(scale)
    bytes[block * 18] = bits & 0xff
    bytes[block * 18 + 1] = bits >> 8
    packNibbles(indices, bytes, block * 18 + 2)
  }
  return bytes
}

/** float32 `[elements]` -> IQ4_XS bytes `[elements / 256 * 136]`. */
export function quantizeIQ4_XS(values: Float32Array): Uint8Array {
  const blocks = values.length / 256
  const bytes = new Uint8Array(blocks * 136)
  const indices = new Uint8Array(256)
  for (let block = 0; block < blocks; block++) {
    const x = values.subarray(256 * block, 256 * block + 256)
    const start = block * 136
    const scales: number[] = []
    let extreme = 0
    for (let group = 0; group < 8; group++) {
      const scale = fitGroup(x.subarray(32 * group, 32 * group + 32), indices.subarray(32 * group), 7)
      scales.push(scale)
      if (Math.abs(scale) > Math.abs(extreme)) extreme = scale
    }
    const superScale = -extreme / 32
    const bits = floatToHalf(superScale)
    bytes[start] = bits & 0xff
    bytes[start + 1] = bits >> 8
    const inverse = superScale === 0 ? 0 : 1 / superScale
    let highScales = 0
    for (let group = 0; group < 8; group++) {
      const level = Math.max(-32, Math.min(31, nearestInt(inverse * (scales[group] as number))))
      // ggml re-picks the entries with the unrounded super-block scale times the 6-bit level.
      const step = superScale * level
      const inverseStep = step === 0 ? 0 : 1 / step
      for (let j = 0; j < 32; j++) {
        indices[32 * group + j] = nearestCodebookIndex(
          iq4Codebook,
          inverseStep * (x[32 * group + j] as number),
        )
      }
      const stored = level + 32
      const lowAt = start + 4 + (group >> 1)
      bytes[lowAt] = (bytes[lowAt] as number) | ((stored & 0x0f) << (4 * (group & 1)))
      highScales |= (stored >> 4) << (2 * group)
    }
    bytes[start + 2] = highScales & 0xff
    bytes[start + 3] = highScales >> 8
    packNibbles(indices, bytes, start + 8)
  }
  return bytes
}
