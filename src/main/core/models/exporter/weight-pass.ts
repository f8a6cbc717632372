import { TillerError } from '../../errors.ts'
import { floatsToHalves } from '../../../../shared/float16.ts'
import { expectedWeightShapes, type WeightTensor } from '../checkpoint.ts'
import type { StreamedCheckpoint } from '../weight-source.ts'
import { validateLoadedWeight } from './validate-weights.ts'
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
}

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
 * hashes it and writes every initializer the graph declared from it (WeightStore), then drops it: the export holds
 * one source weight (and what it derives from it) at a time. Returns the logical weights hash.
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
  for (const [index, name] of names.entries()) {
    if (options.signal?.aborted === true) throw new TillerError('cancelled', 'The export was cancelled.')
    const tensor = await checkpoint.weights.load(name, { blocks: quantBitsOf(dtype) !== undefined })
    const shape = expected.get(name) ?? checkpoint.weights.entries.get(name)?.shape ?? tensor.shape
    validateLoadedWeight(name, shape, tensor)
    const exported = roundedForExport(tensor, dtype)
    if (expected.has(name)) hasher.add(name, exported)
    store.write(name, exported)
    options.onProgress?.({
      tensor: index + 1,
      tensors: names.length,
      name,
      writtenBytes: options.writtenBytes(),
    })
  }
  return hasher.digest()
}
