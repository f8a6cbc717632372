import type { FileHandle } from 'node:fs/promises'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import { hasLazyValues, withLazyValues, type LlamaConfig, type WeightTensor } from '../../checkpoint.ts'
import { weightRows, type WeightEntry, type WeightSource } from '../../weight-source.ts'
import { interleavedToHalfSplitRows } from '../rope-permutation.ts'
import type { TensorMapping } from './gguf-architectures.ts'
import type { GgufFile, GgufTensorEntry } from './gguf-file.ts'
import { hasGroupOffsets } from './block-decode.ts'
import { sourceBitsOf } from './source-bits.ts'
import { ggufRowBytes, readGgufRows, readGgufTensor } from './tensor-data.ts'

/** A GGUF tensor and the Hugging Face weights it holds. */
export interface MappedTensor {
  tensor: GgufTensorEntry
  mapping: TensorMapping
}

/** Consecutive row blocks of `[rows, columns]` data, one per entry of `rowSplit`. */
function splitRows(weight: WeightTensor, rowSplit: number[]): WeightTensor[] {
  const columns = weight.shape[1] ?? 1
  let start = 0
  return rowSplit.map((rows) => {
    const data = weight.data.slice(start * columns, (start + rows) * columns)
    start += rows
    const part = { dtype: weight.dtype, shape: [rows, columns], data } as WeightTensor
    if (weight.sourceBits !== undefined) part.sourceBits = weight.sourceBits
    return part
  })
}

/** Reads one GGUF tensor as its Hugging Face weights: q/k rows in rotate_half order, fused tensors split. */
async function readMappedTensor(
  file: GgufFile,
  handle: FileHandle,
  { tensor, mapping }: MappedTensor,
  config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
  blocks: boolean,
): Promise<WeightTensor[]> {
  let weight = await readGgufTensor(file, handle, tensor, { blocks })
  if (mapping.ropeHeads !== undefined) {
    const heads = mapping.ropeHeads === 'query' ? config.numHeads : config.numKeyValueHeads
    weight = permutedRows(weight, heads, config.headDim)
  }
  return mapping.rowSplit === undefined ? [weight] : splitRows(weight, mapping.rowSplit)
}

/** `heads` heads of interleaved q/k rows in rotate_half order, with their groups. */
function permutedRows(weight: WeightTensor, heads: number, headDim: number): WeightTensor {
  const { blocks, dtype, shape, sourceBits } = weight
  const permuted: Omit<WeightTensor, 'data'> = {
    dtype,
    shape,
    ...(sourceBits === undefined ? {} : { sourceBits }),
  }
  if (blocks !== undefined) {
    // Groups run along a row, so the row permutation moves each row's quants and scales with it.
    permuted.blocks = {
      ...blocks,
      quants: interleavedToHalfSplitRows(blocks.quants, heads, headDim),
      scales: interleavedToHalfSplitRows(blocks.scales, heads, headDim),
      ...(blocks.offsets === undefined
        ? {}
        : { offsets: interleavedToHalfSplitRows(blocks.offsets, heads, headDim) }),
    }
  }
  // The values are permuted only if something reads them, as they are computed (tensor-data.ts).
  return hasLazyValues(weight)
    ? withLazyValues(permuted, () => interleavedToHalfSplitRows(weight.data, heads, headDim))
    : { ...permuted, data: interleavedToHalfSplitRows(weight.data, heads, headDim) }
}

/** The entry (dtype, shape, source bits) of part `index` of a mapped tensor, before its data is read. */
function partEntry({ tensor, mapping }: MappedTensor, index: number): WeightEntry {
  const rows = mapping.rowSplit?.[index]
  const shape = rows === undefined ? [...tensor.shape] : [rows, ...tensor.shape.slice(1)]
  const sourceBits = sourceBitsOf(tensor.type)
  // As tensor-data.ts blocksOf: groups of 32 only for matrices whose rows are whole groups.
  const blockOffsets = hasGroupOffsets(tensor.type) && shape.length === 2 && (shape[1] ?? 0) % 32 === 0
  return {
    dtype: tensor.type === GGMLQuantizationType.F16 ? 'float16' : 'float32',
    shape,
    ...(sourceBits === undefined ? {} : { sourceBits }),
    ...(blockOffsets ? { blockOffsets } : {}),
  }
}

/**
 * The weights of a GGUF read one tensor at a time through an open file handle: `load` reads (and dequantizes)
 * the tensor holding a weight; the other parts of a fused tensor wait until asked for, then are dropped.
 */
export class GgufWeightSource implements WeightSource {
  readonly entries = new Map<string, WeightEntry>()
  private readonly owners = new Map<string, MappedTensor>()
  private readonly waitingParts = new Map<string, WeightTensor>()
  private readonly file: GgufFile
  private readonly handle: FileHandle
  private readonly config: Omit<LlamaConfig, 'tieWordEmbeddings'>
  private closed = false

  /** `tensors` in file order; names in `omitted` (a tied lm_head) are left out. */
  constructor(
    file: GgufFile,
    handle: FileHandle,
    config: Omit<LlamaConfig, 'tieWordEmbeddings'>,
    tensors: MappedTensor[],
    omitted: ReadonlySet<string>,
  ) {
    this.file = file
    this.handle = handle
    this.config = config
    for (const mapped of tensors) {
      mapped.mapping.huggingFaceNames.forEach((name, index) => {
        if (omitted.has(name)) return
        this.entries.set(name, partEntry(mapped, index))
        this.owners.set(name, mapped)
      })
    }
  }

  async load(name: string, options: { blocks?: boolean } = {}): Promise<WeightTensor> {
    const waiting = this.waitingParts.get(name)
    if (waiting !== undefined) {
      this.waitingParts.delete(name)
      return waiting
    }
    const owner = this.owners.get(name)
    if (owner === undefined)
      throw new TillerError('shape-mismatch', `Weight ${name} is missing.`, { subject: name })
    if (this.closed)
      throw new TillerError('internal', `${this.file.path} is closed; weight ${name} cannot be read.`)
    const parts = await readMappedTensor(this.file, this.handle, owner, this.config, options.blocks ?? true)
    let loaded: WeightTensor | undefined
    owner.mapping.huggingFaceNames.forEach((partName, index) => {
      const part = parts[index]
      if (part === undefined || !this.entries.has(partName)) return
      if (partName === name) loaded = part
      else this.waitingParts.set(partName, part)
    })
    if (loaded === undefined) throw new TillerError('internal', `Weight ${name} was not read.`)
    return loaded
  }

  /**
   * Reads rows `[first, first + count)` of weight `name` straight from its rows of the file: a fused tensor's part
   * from its own rows, q/k projections a whole number of heads at a time (rowStep), permuted as `load` permutes them.
   * A tensor whose rows are not whole blocks is read whole and sliced.
   */
  async loadRows(
    name: string,
    first: number,
    count: number,
    options: { blockBits?: number } = {},
  ): Promise<WeightTensor> {
    const owner = this.owners.get(name)
    if (owner === undefined || this.closed || ggufRowBytes(owner.tensor) === undefined) {
      return weightRows(await this.load(name, { blocks: (options.blockBits ?? 0) > 0 }), first, count)
    }
    const { tensor, mapping } = owner
    const partIndex = mapping.huggingFaceNames.indexOf(name)
    const partStart = (mapping.rowSplit ?? []).slice(0, partIndex).reduce((sum, rows) => sum + rows, 0)
    // As `load` (splitRows), the parts of a fused tensor come without their groups.
    const blockBits = mapping.rowSplit === undefined ? (options.blockBits ?? 0) : 0
    const weight = await readGgufRows(this.file, this.handle, tensor, partStart + first, count, blockBits)
    if (mapping.ropeHeads === undefined) return weight
    return permutedRows(weight, count / this.config.headDim, this.config.headDim)
  }

  rowStep(name: string): number {
    return this.owners.get(name)?.mapping.ropeHeads === undefined ? 1 : this.config.headDim
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.waitingParts.clear()
    await this.handle.close()
  }
}
