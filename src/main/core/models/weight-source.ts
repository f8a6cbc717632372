import { TillerError } from '../errors.ts'
import type { LlamaCheckpoint, LlamaConfig, WeightDType, WeightTensor } from './checkpoint.ts'

/** What is known about a weight before its data is read: element type, shape and the source's bits per value. */
export interface WeightEntry {
  dtype: WeightDType
  shape: number[]
  /** As WeightTensor.sourceBits: bits per value in the importer's source, when known. */
  sourceBits?: number
  /**
   * True when the source stores the weight in blocks of 32 with offsets (Q4_1, Q5_1, Q4_K, Q5_K: WeightTensor.blocks
   * with `offsets`), which a q4 export with int8 compute writes with 8 bits (exporter/weights.ts linearBitsOf).
   */
  blockOffsets?: boolean
}

/**
 * A checkpoint's weights read one at a time, so an export holds one weight (plus what it derives from it) rather
 * than the whole model. `entries` lists every weight by Hugging Face name without data; `load` reads one.
 */
export interface WeightSource {
  readonly entries: ReadonlyMap<string, WeightEntry>
  /**
   * Reads weight `name`. An export loads each weight once and drops it when its initializers are written.
   * `blocks: false` says the caller has no use for WeightTensor.blocks (a float export), so a source may skip them.
   */
  load(name: string, options?: { blocks?: boolean }): Promise<WeightTensor>
  /**
   * Reads rows `[first, first + count)` of matrix weight `name` (`[rows, columns]`) as a `[count, columns]`
   * weight, so that an export holds a band of rows rather than the whole matrix. Its groups of 32
   * (WeightTensor.blocks) come along when their bits are at most `blockBits` (a source may skip decoding wider
   * ones, which no export copies). `first` and `count` are multiples of `rowStep(name)`, or `count` ends the matrix.
   */
  loadRows(
    name: string,
    first: number,
    count: number,
    options?: { blockBits?: number },
  ): Promise<WeightTensor>
  /** The rows loadRows reads together: a head's rows where the source permutes rows within heads, else 1. */
  rowStep(name: string): number
  /** Releases files the source holds open; loading afterwards is an error. */
  close(): Promise<void>
}

/** A checkpoint whose weights stay in their source until the export reads them (GGUF imports). */
export interface StreamedCheckpoint {
  config: LlamaConfig
  weights: WeightSource
}

function entryOf(tensor: WeightTensor): WeightEntry {
  return {
    dtype: tensor.dtype,
    shape: tensor.shape,
    ...(tensor.sourceBits === undefined ? {} : { sourceBits: tensor.sourceBits }),
    ...(tensor.blocks?.offsets === undefined ? {} : { blockOffsets: true }),
  }
}

/** Rows `[first, first + count)` of a `[rows, columns]` weight, as views of its arrays (no copy). */
export function weightRows(tensor: WeightTensor, first: number, count: number): WeightTensor {
  const columns = tensor.shape[1] ?? 1
  const rows: WeightTensor = {
    dtype: tensor.dtype,
    shape: [count, columns],
    data: tensor.data.subarray(first * columns, (first + count) * columns),
  }
  if (tensor.sourceBits !== undefined) rows.sourceBits = tensor.sourceBits
  const { blocks } = tensor
  if (blocks !== undefined) {
    const groups = columns / blocks.groupSize
    const { offsets } = blocks
    rows.blocks = {
      ...blocks,
      quants: blocks.quants.subarray(first * columns, (first + count) * columns),
      scales: blocks.scales.subarray(first * groups, (first + count) * groups),
      ...(offsets === undefined
        ? {}
        : { offsets: offsets.subarray(first * groups, (first + count) * groups) }),
    }
  }
  return rows
}

/** The weights of an in-memory checkpoint as a source (loading returns the tensor that is already there). */
export function memoryWeightSource(weights: ReadonlyMap<string, WeightTensor>): WeightSource {
  const entries = new Map([...weights].map(([name, tensor]) => [name, entryOf(tensor)]))
  const load = (name: string): Promise<WeightTensor> => {
    const tensor = weights.get(name)
    if (tensor === undefined) {
      return Promise.reject(
        new TillerError('shape-mismatch', `Weight ${name} is missing.`, { subject: name }),
      )
    }
    return Promise.resolve(tensor)
  }
  return {
    entries,
    load,
    loadRows: async (name, first, count) => {
      const tensor = await load(name)
      // Data that does not fill its shape goes whole, for the export's check to name.
      const elements = tensor.shape.reduce((product, size) => product * size, 1)
      return tensor.data.length === elements ? weightRows(tensor, first, count) : tensor
    },
    rowStep: () => 1,
    close: () => Promise.resolve(),
  }
}

/** A streamed checkpoint of either form: in-memory checkpoints are wrapped, streamed ones returned as they are. */
export function streamedCheckpointOf(checkpoint: LlamaCheckpoint | StreamedCheckpoint): StreamedCheckpoint {
  return checkpoint.weights instanceof Map
    ? { config: checkpoint.config, weights: memoryWeightSource(checkpoint.weights) }
    : (checkpoint as StreamedCheckpoint)
}
