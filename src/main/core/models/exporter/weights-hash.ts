/**
 * The logical weights hash an export records in config.json (`tiller.weightsHash`): what the model computes with,
 * independent of how a folder stores it. Two exports of one checkpoint share it whatever their graph family,
 * weight layout (transposed MatMul weights) or external data file; exports in different dtypes do not, since
 * float16 weights compute differently.
 *
 * sha256 over, in order:
 *   the scheme line `tiller-weights-sha256/1\n`,
 *   the export dtype line (`float32\n`, `float16\n`, `q4\n` or `q8\n`; `q4\tint8\n` or `q8\tint8\n` for a q4/q8 export
 *   with int8 compute, whose activations are quantized and whose blocks with offsets are requantized, so it
 *   computes differently from the float-compute export of the same checkpoint, which keeps the plain line),
 *   for each weight the export writes, by Hugging Face name in code-unit order: the line
 *   `<name>\t<shape joined by ','>\n` (`…\tq8\n` for a matrix a q4 export writes with 8 bits, weights.ts
 *   linearBitsOf, which depends on the compute and on how blocks with offsets are written; `…\tq4-fitted/2\n` for
 *   blocks with offsets requantized to 4 bits with fitted zero points, fitted-zero-points.ts, whose `/1` names the
 *   fit and changes with it; `…\tgather-blocks` after that for the token embedding of a q4/q8 export that stores
 *   it as blocks read by GatherBlockQuantized, linear-bits.ts gathersQuantized), then its values in the Hugging Face
 *   layout (`[out, in]` for Linear) as float32 little-endian bytes, after rounding to the export dtype (float16
 *   values widen exactly).
 * In a q4/q8 export, a matrix whose blocks determine its values (GGUF's legacy types: WeightBlocks.determineValues)
 * and which the export writes from them (their bits at most its MatMulNBits bits; the token embedding only when
 * gathered from blocks) hashes the blocks instead, the same weight in a quarter of the bytes or less and without
 * computing its values: its line ends in `\tblocks/<bits>/<zero point>` (`/offsets` when the blocks have offsets), and
 * the quants follow (one byte each, row-major), then the sha256 digests of its scales and, with offsets, of its
 * offsets (float32 little-endian), so a weight read whole or in bands of rows hashes the same.
 */
import { createHash, type Hash } from 'node:crypto'
import { endianness } from 'node:os'
import { floatsToHalves, halvesToFloats } from '../../../../shared/float16.ts'
import { TillerError } from '../../errors.ts'
import {
  expectedWeightShapes,
  type LlamaCheckpoint,
  type LlamaConfig,
  type WeightTensor,
} from '../checkpoint.ts'
import type { WeightEntry } from '../weight-source.ts'
import { embeddingWeight } from './embedding.ts'
import {
  fitsZeroPoints,
  gathersQuantized,
  linearBitsOf,
  quantBitsOf,
  type ExportDType,
  type LinearCompute,
  type OffsetBlocks,
} from './weights.ts'

/** The first line hashed; change it when the scheme changes. */
export const weightsHashScheme = 'tiller-weights-sha256/1'

/** The mark of an embedding a quantized export gathers from blocks. */
const gatherMark = '\tgather-blocks'

/** The mark of a matrix written with fitted zero points; bump its number when the fit changes. */
const fittedMark = '\tq4-fitted/2'

/**
 * A tensor's values as the export stores them, widened to float32 `[elements]`. q4/q8 exports hash the float
 * source values (the dtype line in the hash and the deterministic quantizer pin down what was written).
 */
function exportedValues(tensor: WeightTensor, dtype: ExportDType): Float32Array {
  const floats =
    tensor.dtype === 'float16' ? halvesToFloats(tensor.data as Uint16Array) : (tensor.data as Float32Array)
  return dtype === 'float16' && tensor.dtype === 'float32' ? halvesToFloats(floatsToHalves(floats)) : floats
}

/** Feed float32 values `[elements]` to `hash` as little-endian bytes, whatever this machine's byte order. */
function updateLittleEndian(hash: Hash, values: Float32Array): void {
  if (endianness() === 'LE') {
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    return
  }
  const bytes = new DataView(new ArrayBuffer(values.byteLength))
  values.forEach((value, index) => bytes.setFloat32(index * 4, value, true))
  hash.update(new Uint8Array(bytes.buffer))
}

/**
 * The logical weights hash computed weight by weight, for exports that read one weight at a time: `add` each
 * weight in `names` order (the config's expected weights, sorted), then `digest`.
 */
export class WeightsHasher {
  /** The weights to add, in order. */
  readonly names: readonly string[]
  private readonly hash: Hash
  private readonly dtype: ExportDType
  private readonly linearBits: (tensor: WeightEntry) => 4 | 8 | undefined
  private readonly compute: LinearCompute
  private added = 0
  /** The line of the weight begun last, written with its first values (which say whether blocks are hashed). */
  private line: string | undefined
  /** The weight begun last: its name and MatMulNBits bits. */
  private current: { name: string; bits: 4 | 8 | undefined; weight: WeightEntry | WeightTensor } | undefined
  /** Whether the weight begun last hashes its blocks; undefined until its first values arrive. */
  private byBlocks: boolean | undefined
  /** The scales' and offsets' hashes of a weight hashed by its blocks, appended when it ends. */
  private blockParts: { scales: Hash; offsets: Hash | undefined } | undefined

  /**
   * `compute` and `offsetBlocks` as the export's (q4/q8 only; compute absent or float32 hashes as float compute,
   * offsetBlocks absent as the default).
   */
  constructor(
    config: LlamaConfig,
    entries: Iterable<WeightEntry>,
    dtype: ExportDType,
    compute?: LinearCompute,
    offsetBlocks?: OffsetBlocks,
  ) {
    const int8 = quantBitsOf(dtype) !== undefined && compute === 'int8'
    this.names = [...expectedWeightShapes(config).keys()].sort()
    this.hash = createHash('sha256').update(`${weightsHashScheme}\n${dtype}${int8 ? '\tint8' : ''}\n`)
    this.dtype = dtype
    this.compute = int8 ? 'int8' : 'float32'
    this.linearBits = linearBitsOf(entries, dtype, this.compute, offsetBlocks)
  }

  /** Hash weight `name`, which must be the next of `names`. */
  add(name: string, tensor: WeightTensor): void {
    this.begin(name, tensor)
    this.update(tensor)
  }

  /**
   * Start hashing weight `name` (the next of `names`), described by its entry or its whole tensor; its values
   * follow through `update`, in order, in one or more pieces.
   */
  begin(name: string, weight: WeightEntry | WeightTensor): void {
    this.endWeight()
    if (this.names[this.added] !== name) {
      throw new TillerError(
        'internal',
        `Weight ${name} is hashed out of order (expected ${this.names[this.added]}).`,
      )
    }
    this.added += 1
    // A q4 export that keeps a source's precision mix writes some matrices with 8 bits, and with int8 compute
    // fits the zero points of blocks with offsets: the hash says which.
    const bits = this.dtype === 'q4' && weight.shape.length === 2 ? this.linearBits(weight) : undefined
    const mark = bits === 8 ? '\tq8' : fitsZeroPoints(weight, bits, this.compute) ? fittedMark : ''
    // A quantized export's embedding gathered from blocks computes with their values, not the float ones.
    const gathered =
      name === embeddingWeight && gathersQuantized(weight, this.linearBits(weight), this.compute)
        ? gatherMark
        : ''
    this.line = `${name}\t${weight.shape.join(',')}${mark}${gathered}`
    this.current = { name, bits: this.linearBits(weight), weight }
    this.byBlocks = undefined
  }

  /** Hash the next values of the weight begun last (a band of its rows, or all of them). */
  update(tensor: WeightTensor): void {
    const byBlocks = this.hashesBlocks(tensor)
    if (this.byBlocks === undefined) {
      const { blocks } = tensor
      const form =
        byBlocks && blocks !== undefined
          ? `\tblocks/${blocks.bits}/${blocks.zeroPoint}${blocks.offsets === undefined ? '' : '/offsets'}`
          : ''
      this.hash.update(`${this.line ?? ''}${form}\n`)
      this.byBlocks = byBlocks
      if (byBlocks) {
        const offsets = blocks?.offsets === undefined ? undefined : createHash('sha256')
        this.blockParts = { scales: createHash('sha256'), offsets }
      }
    } else if (this.byBlocks !== byBlocks) {
      throw new TillerError('internal', `Weight ${this.current?.name}: some bands carry blocks, others not.`)
    }
    const { blocks } = tensor
    if (!byBlocks || blocks === undefined || this.blockParts === undefined) {
      updateLittleEndian(this.hash, exportedValues(tensor, this.dtype))
      return
    }
    this.hash.update(blocks.quants)
    updateLittleEndian(this.blockParts.scales, blocks.scales)
    const { offsets } = this.blockParts
    if (offsets !== undefined && blocks.offsets !== undefined) updateLittleEndian(offsets, blocks.offsets)
  }

  /** Whether `tensor`, values of the weight begun last, is hashed by its blocks (see the scheme above). */
  private hashesBlocks(tensor: WeightTensor): boolean {
    const { blocks } = tensor
    const bits = this.current?.bits
    if (quantBitsOf(this.dtype) === undefined || bits === undefined || blocks === undefined) return false
    if (blocks.determineValues !== true || blocks.groupSize !== 32 || blocks.bits > bits) return false
    const weight = this.current?.weight ?? tensor
    return this.current?.name !== embeddingWeight || gathersQuantized(weight, bits, this.compute)
  }

  /** Append the block parts of the weight begun last, if it was hashed by its blocks. */
  private endWeight(): void {
    // A weight whose values never arrived (no rows) still hashes its line.
    if (this.line !== undefined && this.byBlocks === undefined) this.hash.update(`${this.line}\n`)
    this.line = undefined
    if (this.blockParts !== undefined) {
      this.hash.update(this.blockParts.scales.digest())
      if (this.blockParts.offsets !== undefined) this.hash.update(this.blockParts.offsets.digest())
    }
    this.blockParts = undefined
  }

  /** The hash (hex), once every weight of `names` is added. */
  digest(): string {
    this.endWeight()
    if (this.added !== this.names.length) {
      throw new TillerError('internal', `Weight ${this.names[this.added]} was not hashed.`)
    }
    return this.hash.digest('hex')
  }
}

/**
 * The logical weights hash (hex) of `checkpoint` exported as `dtype` with `compute` and `offsetBlocks` (q4/q8 only;
 * ignored for float dtypes). The checkpoint must hold every weight its config needs (validateCheckpoint); weights beyond those are
 * not exported and not hashed.
 */
export function checkpointWeightsHash(
  checkpoint: LlamaCheckpoint,
  dtype: ExportDType,
  compute?: LinearCompute,
  offsetBlocks?: OffsetBlocks,
): string {
  const hasher = new WeightsHasher(
    checkpoint.config,
    checkpoint.weights.values(),
    dtype,
    compute,
    offsetBlocks,
  )
  for (const name of hasher.names) {
    const tensor = checkpoint.weights.get(name)
    if (tensor === undefined) {
      throw new TillerError(
        'internal',
        `Weight ${name} is missing; validate the checkpoint before hashing it.`,
      )
    }
    hasher.add(name, tensor)
  }
  return hasher.digest()
}
