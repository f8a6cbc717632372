import { TillerError } from '../../errors.ts'
import { floatsToHalves } from '../../../../shared/float16.ts'
import { expectedWeightShapes, type WeightTensor } from '../checkpoint.ts'
import type { StreamedCheckpoint } from '../weight-source.ts'
import { validateLoadedWeight, valueCount } from './validate-weights.ts'
import type { WeightStore } from './weights.ts'
import { WeightsHasher } from './weights-hash.ts'
import { quantBitsOf, type ExportDType, type LinearCompute, type OffsetBlocks } from './weights.ts'

/** Where an export's weight pass is: source weights written of all, and bytes in the external data file so far. */
export interface ExportProgress {
  /** Source weights written so far, and of how many. */
  tensor: number
  tensors: number
  /** The Hugging Face name of the weight just written. */
  name: string
  /** Bytes of the graph's external data file written so far. */
  writtenBytes: number
}

export interface WeightPassOptions {
  /** Called after each source weight is written. */
  onProgress?: (progress: ExportProgress) => void
  /** Stops the pass between weights with TillerError('cancelled'). */
  signal?: AbortSignal
  /** Bytes written to the external data file so far (for progress). */
  writtenBytes: () => number
  /** How the export writes blocks with offsets (weights.ts OffsetBlocks), for the weights hash; default '4bit'. */
  offsetBlocks?: OffsetBlocks
  /** About how many values of a matrix are read at a time (a band of whole rows); tests pass small ones. */
  bandElements?: number
}

/** Values per band of rows: 8 MB as float32, so an export holds a band, not the largest matrix. */
export const defaultBandElements = 1 << 21

/**
 * A float16 export rounds a float32 weight to float16 once, here, for the hash and every initializer alike (both
 * would otherwise round it each); other weights pass as they are.
 */
function roundedForExport(tensor: WeightTensor, dtype: ExportDType): WeightTensor {
  if (dtype !== 'float16' || tensor.dtype !== 'float32') return tensor
  return {
    dtype: 'float16',
    shape: tensor.shape,
    data: floatsToHalves(tensor.data as Float32Array),
    ...(tensor.sourceBits === undefined ? {} : { sourceBits: tensor.sourceBits }),
  }
}

/**
 * Reads the checkpoint's weights one at a time, in the weights hash's order (weights-hash.ts), and for each
 * hashes it and writes every initializer the graph declared from it (WeightStore), then drops it. Matrices are read
 * a band of rows at a time (about `bandElements` values), hashed and written band by band, so the export holds a
 * band plus what cannot be streamed (a transposed MatMul weight, a tied head's MatMulNBits beside the embedding,
 * scales and zero points, in their exported form). Returns the logical weights hash.
 */
export async function writeWeights(
  checkpoint: StreamedCheckpoint,
  store: WeightStore,
  dtype: ExportDType,
  compute: LinearCompute | undefined,
  options: WeightPassOptions,
): Promise<string> {
  const expected = expectedWeightShapes(checkpoint.config)
  const entries = checkpoint.weights.entries.values()
  const hasher = new WeightsHasher(checkpoint.config, entries, dtype, compute, options.offsetBlocks)
  // Every weight the graph reads is one the config expects; anything else would be written unhashed, after them.
  const extra = store.pendingSources().filter((name) => !expected.has(name))
  const names = [...hasher.names, ...extra]
  const cancelled = (): void => {
    if (options.signal?.aborted === true) throw new TillerError('cancelled', 'The export was cancelled.')
  }
  for (const [index, name] of names.entries()) {
    cancelled()
    const entry = checkpoint.weights.entries.get(name)
    const shape = expected.get(name) ?? entry?.shape
    if (entry !== undefined && shape?.length === 2) {
      const [rows, columns] = shape as [number, number]
      const step = checkpoint.weights.rowStep(name)
      const wanted = Math.floor((options.bandElements ?? defaultBandElements) / columns / step) * step
      const band = store.needsWhole(name) ? rows : Math.max(step, wanted)
      if (expected.has(name)) hasher.begin(name, { ...entry, shape })
      const sink = store.open(name)
      for (let first = 0; first < rows; first += band) {
        if (first > 0) cancelled()
        const count = Math.min(band, rows - first)
        const tensor = await checkpoint.weights.loadRows(name, first, count, {
          blockBits: store.blockBitsOf(name),
        })
        validateLoadedWeight(name, valueCount(tensor) === count * columns ? [count, columns] : shape, tensor)
        const exported = roundedForExport(tensor, dtype)
        if (expected.has(name)) hasher.update(exported)
        sink.rows(exported, first)
      }
      sink.finish()
    } else {
      const tensor = await checkpoint.weights.load(name, { blocks: quantBitsOf(dtype) !== undefined })
      validateLoadedWeight(name, shape ?? tensor.shape, tensor)
      const exported = roundedForExport(tensor, dtype)
      if (expected.has(name)) hasher.add(name, exported)
      store.write(name, exported)
    }
    options.onProgress?.({
      tensor: index + 1,
      tensors: names.length,
      name,
      writtenBytes: options.writtenBytes(),
    })
  }
  store.resolveAliases()
  return hasher.digest()
}
