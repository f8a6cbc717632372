import { TillerError } from '../../errors.ts'
import type { GraphBuilder } from '../../onnx/builder.ts'
import { ExternalDataWriter, externalTensor, setExternalData } from '../../onnx/external-data.ts'
import { TensorElementType, type ElementTypeName, type TensorProto } from '../../onnx/proto.ts'
import { halvesToFloats, floatsToHalves } from '../../../../shared/float16.ts'
import { bytesOf } from '../../onnx/tensor.ts'
import { quantBlockSize, quantizeLinearWeight } from './quantize-blocks.ts'
import type { WeightTensor } from '../checkpoint.ts'
import type { WeightEntry } from '../weight-source.ts'
import { concatenated, InitializerBytes, type RowSink } from './row-sinks.ts'

/**
 * What the exported graph stores: float32 or float16 weights, activations and KV cache, or 4-/8-bit block-quantized
 * linear weights (com.microsoft MatMulNBits) with float32 activations, KV cache, norms and embedding table.
 */
export type ExportDType = 'float32' | 'float16' | 'q4' | 'q8'

/**
 * What a q4/q8 export's MatMulNBits nodes multiply in. 'int8' (ONNX Runtime's accuracy_level 4): each step's
 * activations are quantized to int8 per block of 32 and multiplied with integer dot products, about 3× faster on
 * CPU than 'float32' (accuracy_level 0), which dequantizes the weights and multiplies in float32, giving the float32
 * export of the same quantized weights up to summation order. 'int8' writes blocks with offsets (Q4_1, Q4_K, …)
 * with integer zero points, which its kernel needs (OffsetBlocks).
 */
export type LinearCompute = 'int8' | 'float32'

/** The compute of q4/q8 exports when none is asked for: int8, the fast one. */
export const defaultLinearCompute: LinearCompute = 'int8'

/**
 * How a q4 export with int8 compute writes blocks with offsets (Q4_1, Q4_K, and Q5_1, Q5_K where they get 4 bits):
 * '4bit' requantizes them to 4 bits with fitted integer zero points (fitted-zero-points.ts), about the GGUF's size,
 * at the error a 4-bit requantization costs; '8bit' keeps their quants at 8 bits with integer zero points, each
 * weight within 1/32 of its step (quantize-blocks.ts integerZeroPoints), about twice the GGUF's size.
 * Float compute keeps them at 4 bits with float zero points either way.
 */
export type OffsetBlocks = '4bit' | '8bit'

/** How blocks with offsets are written when nothing is asked: at 4 bits, the GGUF's size. */
export const defaultOffsetBlocks: OffsetBlocks = '4bit'

/** MatMulNBits' accuracy_level attribute for a compute: 4 = int8 activations, 0 = float (ONNX Runtime contrib ops). */
export function accuracyLevelOf(compute: LinearCompute): 0 | 4 {
  return compute === 'int8' ? 4 : 0
}

/** Element type of activations, KV cache and float weights. */
export type FloatType = 'float32' | 'float16'

/** The float type the graph computes in for an export dtype. */
export function floatTypeOf(dtype: ExportDType): FloatType {
  return dtype === 'float16' ? 'float16' : 'float32'
}

/** MatMulNBits bits for a quantized dtype, undefined for the float dtypes. */
export function quantBitsOf(dtype: ExportDType): 4 | 8 | undefined {
  return dtype === 'q4' ? 4 : dtype === 'q8' ? 8 : undefined
}

/**
 * Band `[bandRows, columns]` (rows `firstRow…` of a `[rows, columns]` weight) into its place in the transposed
 * `[columns, rows]` `result`, for either element type.
 */
function transposeInto(
  band: Float32Array | Uint16Array,
  bandRows: number,
  columns: number,
  result: Float32Array | Uint16Array,
  rows: number,
  firstRow: number,
): void {
  for (let row = 0; row < bandRows; row++) {
    for (let column = 0; column < columns; column++)
      result[column * rows + firstRow + row] = band[row * columns + column] ?? 0
  }
}

function convert(
  data: Float32Array | Uint16Array,
  from: WeightTensor['dtype'],
  to: FloatType,
): Float32Array | Uint16Array {
  if (from === to) return data
  return to === 'float16' ? floatsToHalves(data as Float32Array) : halvesToFloats(data as Uint16Array)
}

/**
 * What a quantized export did to the linear weights: how many were copied exactly from their source blocks, how
 * many with float zero points, how many were requantized, and the largest absolute difference to the float
 * weights (0 for float exports); `byBits` counts the weights written with 4 and with 8 bits and each one's largest
 * difference.
 */
export interface QuantizationReport {
  exactTensors: number
  /** Blocks with offsets (Q4_1, Q5_1, Q4_K, Q5_K) copied with float zero points: exact up to float rounding. */
  offsetTensors: number
  requantizedTensors: number
  /**
   * Blocks with offsets requantized to 4 bits with fitted zero points (int8 compute, OffsetBlocks '4bit'), and their
   * relative RMS difference to the float weights over all of them, sqrt(Σ gap² / Σ weight²) (0 when none).
   */
  fittedTensors: number
  fittedRelativeRms: number
  maximumError: number
  byBits: Record<'4' | '8', { tensors: number; maximumError: number }>
}

/**
 * Whether a q4 export keeps the checkpoint's precision mix: true when some matrix was stored with 4 bits or fewer
 * (a Q4_K_M file's Q4_K), so its more precise matrices (Q6_K, Q8_0, F16, ...) are the file's deliberate choice
 * and get 8 bits. A checkpoint without such matrices (an F16 or Q8_0 file, or one without source bits) is
 * requantized to 4 bits throughout, as `--dtype q4` asks.
 */
function keepsMix(weights: Iterable<WeightEntry>): boolean {
  for (const tensor of weights) {
    if (tensor.shape.length === 2 && tensor.sourceBits !== undefined && tensor.sourceBits <= 4) return true
  }
  return false
}

/** Whether a weight's source blocks carry offsets: from its entry, or from the blocks of a loaded weight. */
function hasBlockOffsets(tensor: WeightEntry | WeightTensor): boolean {
  if ('blocks' in tensor && tensor.blocks?.offsets !== undefined) return true
  return 'blockOffsets' in tensor && tensor.blockOffsets === true
}

/**
 * The MatMulNBits bits each matrix of a checkpoint (its weights or their entries) gets in a `dtype` export with
 * `compute`, as a function of the tensor: undefined for float exports, 8 in q8, and in q4 8 for a source weight
 * above 4 bits when the checkpoint keeps its mix (keepsMix), 8 for blocks with offsets (Q4_1, Q4_K) under int8
 * compute when `offsetBlocks` is '8bit' (their quants kept within 1/32 of a step), else 4.
 */
export function linearBitsOf(
  weights: Iterable<WeightEntry>,
  dtype: ExportDType,
  compute: LinearCompute,
  offsetBlocks: OffsetBlocks = defaultOffsetBlocks,
): (tensor: WeightEntry | WeightTensor) => 4 | 8 | undefined {
  const exportBits = quantBitsOf(dtype)
  const mixed = exportBits === 4 && keepsMix(weights)
  return (tensor) => {
    if (exportBits !== 4) return exportBits
    if (mixed && (tensor.sourceBits ?? 0) > 4) return 8
    return compute === 'int8' && offsetBlocks === '8bit' && hasBlockOffsets(tensor) ? 8 : 4
  }
}

/**
 * Whether a matrix a q4 export writes with `bits` holds blocks with offsets requantized with fitted zero points
 * (quantize-blocks.ts: 4 bits, int8 compute): the weights hash marks them, as their values change with the fit.
 */
export function fitsZeroPoints(
  tensor: WeightEntry | WeightTensor,
  bits: 4 | 8 | undefined,
  compute: LinearCompute,
): boolean {
  return bits === 4 && compute === 'int8' && hasBlockOffsets(tensor)
}

/**
 * The sink of one declared initializer group, made when its source weight starts arriving; `direct` for the
 * first group of a source, which may append to the data file as rows arrive (row-sinks.ts).
 */
type PendingWrite = (direct: boolean) => RowSink

/**
 * The graph's weights. Building the graph declares each initializer (name, type, shape) and returns its name at
 * once; the data follows source weight by source weight (`write`, called by the export pass, weight-pass.ts),
 * appended to the graph's one external data file and pointed at by the declared initializers, so an export
 * holds one source weight at a time. HF Linear weights `[out, in]` are stored transposed (`[in, out]`), the
 * layout MatMul reads.
 */
export class WeightStore {
  readonly dtype: FloatType
  /** MatMulNBits bits of linear weights, undefined when they are float (MatMul). */
  readonly quantBits: 4 | 8 | undefined
  /** What the MatMulNBits nodes multiply in (quantized exports). */
  readonly compute: LinearCompute
  /**
   * What `quantized` did: tensors copied exactly, copied with float zero points, requantized, requantized with
   * fitted zero points (with their relative RMS difference), the largest difference to the float values, and the
   * same per MatMulNBits width.
   */
  readonly quantization: QuantizationReport = {
    exactTensors: 0,
    offsetTensors: 0,
    requantizedTensors: 0,
    fittedTensors: 0,
    fittedRelativeRms: 0,
    maximumError: 0,
    byBits: { '4': { tensors: 0, maximumError: 0 }, '8': { tensors: 0, maximumError: 0 } },
  }
  /** Σ gap² and Σ weight² over the fitted weights, for fittedRelativeRms. */
  private readonly fittedSums = { squaredError: 0, squaredValues: 0 }
  /** The bits of each linear weight (linearBitsOf): 8 for precise source weights in a mixed q4 export. */
  private readonly linearBits: (tensor: WeightEntry) => 4 | 8 | undefined
  private readonly graph: GraphBuilder
  private readonly entries: ReadonlyMap<string, WeightEntry>
  private readonly data: ExternalDataWriter
  /** What each source weight's data still has to become, in declaration order. */
  private readonly pending = new Map<string, PendingWrite[]>()
  /** The widest MatMulNBits bits declared from each source weight (whose groups up to those bits are useful). */
  private readonly blockBits = new Map<string, number>()
  /** Source weights whose initializers need the whole weight at once (float zero points: quantize-blocks.ts). */
  private readonly whole = new Set<string>()

  constructor(
    graph: GraphBuilder,
    entries: ReadonlyMap<string, WeightEntry>,
    data: ExternalDataWriter,
    dtype: ExportDType,
    compute: LinearCompute = defaultLinearCompute,
    offsetBlocks: OffsetBlocks = defaultOffsetBlocks,
  ) {
    this.compute = compute
    this.graph = graph
    this.entries = entries
    this.data = data
    this.dtype = floatTypeOf(dtype)
    this.quantBits = quantBitsOf(dtype)
    this.linearBits = linearBitsOf(entries.values(), dtype, compute, offsetBlocks)
  }

  /** The source weights the graph uses whose data is not written yet. */
  pendingSources(): string[] {
    return [...this.pending.keys()]
  }

  /** Write every initializer declared from source weight `name`, whose data is `tensor`. */
  write(name: string, tensor: WeightTensor): void {
    const sink = this.open(name)
    sink.rows(tensor, 0)
    sink.finish()
  }

  /**
   * Start writing every initializer declared from source weight `name`: give the sink the weight's bands of rows
   * in order, then finish it. The first initializer group streams to the data file; later ones (a tied head's
   * MatMulNBits beside the embedding) gather their bytes and append them at `finish`, in declaration order.
   */
  open(name: string): RowSink {
    const writes = this.pending.get(name) ?? []
    this.pending.delete(name)
    const sinks = writes.map((write, index) => write(index === 0))
    return {
      rows: (tensor, firstRow) => sinks.forEach((sink) => sink.rows(tensor, firstRow)),
      finish: () => sinks.forEach((sink) => sink.finish()),
    }
  }

  /** The widest MatMulNBits bits declared from source weight `name`, or 0: its groups of more bits go unused. */
  blockBitsOf(name: string): number {
    return this.blockBits.get(name) ?? 0
  }

  /** Whether source weight `name` must arrive whole, in one band. */
  needsWhole(name: string): boolean {
    return this.whole.has(name)
  }

  private entry(name: string): WeightEntry {
    const entry = this.entries.get(name)
    if (entry === undefined)
      throw new TillerError('shape-mismatch', `Weight ${name} is missing.`, { subject: name })
    return entry
  }

  /** Declare an external initializer whose bytes come later; returns the proto to point at them. */
  private declare(name: string, type: ElementTypeName, dims: number[]): TensorProto {
    const tensor = externalTensor(name, type, dims, { location: this.data.location, offset: 0, length: 0 })
    this.graph.addInitializer(tensor)
    return tensor
  }

  private later(source: string, write: PendingWrite): void {
    const writes = this.pending.get(source)
    if (writes === undefined) this.pending.set(source, [write])
    else writes.push(write)
  }

  private append(tensor: TensorProto, bytes: Uint8Array): void {
    setExternalData(tensor, this.data.append(bytes))
  }

  /**
   * Add an HF Linear weight `[out, in]` as MatMulNBits inputs named `${name}.{weight,scales,zero_points}`
   * (quantize-blocks.ts). Only for quantized exports; `in` must be a multiple of 32.
   */
  quantized(
    name: string,
    source: string,
  ): { weight: string; scales: string; zeroPoints: string; rows: number; columns: number; bits: 4 | 8 } {
    const entry = this.entry(source)
    const bits = this.linearBits(entry)
    if (bits === undefined) throw new TillerError('internal', `Weight ${name}: the export is not quantized.`)
    const [rows, columns] = entry.shape as [number, number]
    if (columns % quantBlockSize !== 0) {
      throw new TillerError(
        'unsupported-tensor-type',
        `Weight ${source} has ${columns} input columns, not a multiple of ${quantBlockSize}; export it as float32 or float16.`,
        { subject: source },
      )
    }
    const blocks = columns / quantBlockSize
    const packedWeight = this.declare(`${name}.weight`, 'uint8', [rows, blocks, (quantBlockSize * bits) / 8])
    const scales = this.declare(`${name}.scales`, 'float32', [rows * blocks])
    // uint8 packed zero points, or float32 ones for blocks with offsets: known once the weight is quantized.
    const zeroPoints = this.declare(`${name}.zero_points`, 'uint8', [0])
    // Float zero points only where ONNX Runtime computes them: 4 bits, float compute (quantize-blocks.ts).
    const floatZeroPoints = bits === 4 && this.compute === 'float32'
    // Whether blocks with offsets get float zero points depends on every scale of the weight: it arrives whole.
    const sourceOffsets = entry.blockOffsets === true
    if (floatZeroPoints && sourceOffsets) this.whole.add(source)
    this.blockBits.set(source, Math.max(bits, this.blockBits.get(source) ?? 0))
    this.later(source, (direct) => {
      // Every block is quantized on its own, so bands of rows give the whole weight's bytes, band after band.
      const packed = new InitializerBytes(this.data, packedWeight, (rows * columns * bits) / 8, direct)
      const scalePieces: Float32Array[] = []
      const zeroPieces: (Uint8Array | Float32Array)[] = []
      let kind: 'exact' | 'offsets' | 'requantized' | 'fitted' = 'exact'
      let maximumError = 0
      return {
        rows: (tensor) => {
          const quantized = quantizeLinearWeight(tensor, bits, floatZeroPoints, sourceOffsets)
          kind = quantized.source
          if (quantized.source === 'fitted') this.countFitted(quantized.squaredError, quantized.squaredValues)
          maximumError = Math.max(maximumError, quantized.maximumError)
          packed.add(quantized.packed)
          scalePieces.push(quantized.scales)
          zeroPieces.push(quantized.zeroPoints)
        },
        finish: () => {
          this.count(kind, bits, maximumError)
          packed.finish()
          this.append(scales, bytesOf(concatenated(scalePieces)))
          const floatZeros = zeroPieces[0] instanceof Float32Array
          const zeros = floatZeros
            ? concatenated(zeroPieces as Float32Array[])
            : concatenated(zeroPieces as Uint8Array[])
          zeroPoints.dataType = TensorElementType[floatZeros ? 'float32' : 'uint8']
          zeroPoints.dims = [floatZeros ? rows * blocks : zeros.length]
          this.append(zeroPoints, bytesOf(zeros))
        },
      }
    })
    return {
      weight: packedWeight.name,
      scales: scales.name,
      zeroPoints: zeroPoints.name,
      rows,
      columns,
      bits,
    }
  }

  private count(
    source: 'exact' | 'offsets' | 'requantized' | 'fitted',
    bits: 4 | 8,
    maximumError: number,
  ): void {
    if (source === 'exact') this.quantization.exactTensors += 1
    else if (source === 'offsets') this.quantization.offsetTensors += 1
    else if (source === 'fitted') this.quantization.fittedTensors += 1
    else this.quantization.requantizedTensors += 1
    this.quantization.maximumError = Math.max(this.quantization.maximumError, maximumError)
    const width = this.quantization.byBits[bits === 4 ? '4' : '8']
    width.tensors += 1
    width.maximumError = Math.max(width.maximumError, maximumError)
  }

  private countFitted(squaredError = 0, squaredValues = 0): void {
    this.fittedSums.squaredError += squaredError
    this.fittedSums.squaredValues += squaredValues
    const { squaredError: gaps, squaredValues: sizes } = this.fittedSums
    this.quantization.fittedRelativeRms = sizes > 0 ? Math.sqrt(gaps / sizes) : 0
  }

  /** Add checkpoint weight `source` unchanged (embeddings `[vocab, hidden]`, norm weights `[hidden]`). */
  asIs(name: string, source: string): string {
    const { shape } = this.entry(source)
    const initializer = this.declare(name, this.dtype, shape)
    const byteLength = shape.reduce((product, size) => product * size, 1) * (this.dtype === 'float16' ? 2 : 4)
    this.later(source, (direct) => {
      const bytes = new InitializerBytes(this.data, initializer, byteLength, direct)
      return {
        rows: (tensor) => bytes.add(bytesOf(convert(tensor.data, tensor.dtype, this.dtype))),
        finish: () => bytes.finish(),
      }
    })
    return name
  }

  /**
   * Add an HF Linear weight `[out, in]` transposed to `[in, out]` for MatMul: every band of rows lands in every
   * output row, so the transposed weight is gathered whole (in the export's float type) and written at the end.
   */
  transposed(name: string, source: string): string {
    const [rows, columns] = this.entry(source).shape as [number, number]
    const initializer = this.declare(name, this.dtype, [columns, rows])
    this.later(source, () => {
      const result =
        this.dtype === 'float16' ? new Uint16Array(rows * columns) : new Float32Array(rows * columns)
      return {
        rows: (tensor, firstRow) =>
          transposeInto(
            convert(tensor.data, tensor.dtype, this.dtype),
            tensor.shape[0] ?? 0,
            columns,
            result,
            rows,
            firstRow,
          ),
        finish: () => this.append(initializer, bytesOf(result)),
      }
    })
    return name
  }

  /** Add computed float32 values (e.g. RoPE caches), converted to the export dtype, written at once. */
  computed(name: string, dims: number[], values: Float32Array): string {
    this.append(this.declare(name, this.dtype, dims), bytesOf(convert(values, 'float32', this.dtype)))
    return name
  }
}
