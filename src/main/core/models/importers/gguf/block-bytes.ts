import { halfToFloat } from '../../../../../shared/float16.ts'

/**
 * What every block dequantizer shares: checking that a byte range holds a whole number of blocks for the element
 * count, and reading a little-endian float16 out of a block without a DataView.
 */

/** The number of blocks `bytes` holds for `elementCount` elements; throws RangeError when they disagree. */
export function blockCount(
  bytes: Uint8Array,
  elementCount: number,
  blockSize: number,
  bytesPerBlock: number,
  format: string,
): number {
  const blocks = elementCount / blockSize
  if (!Number.isInteger(blocks) || bytes.length !== blocks * bytesPerBlock) {
    throw new RangeError(`${format}: ${bytes.length} bytes cannot hold ${elementCount} elements`)
  }
  return blocks
}

/** The output array for `elementCount` values: `output` when given (and long enough), else a new one. */
export function outputFor(
  elementCount: number,
  output: Float32Array | undefined,
  format: string,
): Float32Array {
  if (output === undefined) return new Float32Array(elementCount)
  if (output.length < elementCount) {
    throw new RangeError(`${format}: output of ${output.length} values cannot take ${elementCount}`)
  }
  return output
}

/** The float16 stored little-endian at `offset`, as a number. */
export function halfAt(bytes: Uint8Array, offset: number): number {
  return halfToFloat((bytes[offset] as number) | ((bytes[offset + 1] as number) << 8))
}

/** The signed view of the same bytes (int8 quants). */
export function signedBytes(bytes: Uint8Array): Int8Array {
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
