import { TillerError } from '../../errors.ts'
import type { GraphBuilder } from '../../onnx/builder.ts'
import {
  ExternalDataWriter,
  externalDataInfo,
  externalTensor,
  setExternalData,
} from '../../onnx/external-data.ts'
import { TensorElementType, type ElementTypeName, type TensorProto } from '../../onnx/proto.ts'
import { halvesToFloats, floatsToHalves } from '../../../../shared/float16.ts'
import { bytesOf } from '../../onnx/tensor.ts'
import { quantBlockSize, quantizeLinearWeight } from './quantize-blocks.ts'
import type { WeightTensor } from '../checkpoint.ts'
import type { WeightEntry } from '../weight-source.ts'
import { concatenated, InitializerBytes, type RowSink } from './row-sinks.ts'
import {
  defaultLinearCompute,
  defaultOffsetBlocks,
  floatTypeOf,
  quantBitsOf,
  type ExportDType,
  type FloatType,
  type LinearCompute,
  type OffsetBlocks,
} from './export-dtype.ts'
import { fitsZeroPoints, gathersQuantized, linearBitsOf } from './linear-bits.ts'

// The dtype vocabulary and bit choices, for the exporter's callers that know this module only.
export * from './export-dtype.ts'
export { fitsZeroPoints, gathersQuantized, linearBitsOf } from './linear-bits.ts'

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

/** The inputs of a MatMulNBits (or GatherBlockQuantized) node over one quantized weight `[rows, columns]`. */
export interface QuantizedInputs {
  weight: string
  scales: string
  zeroPoints: string
  rows: number
  columns: number
  bits: 4 | 8
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
  /** The MatMulNBits inputs written from each source weight, so a second use (a tied head) shares them. */
  private readonly quantizedBySource = new Map<string, QuantizedInputs>()
  /** Initializers that point at another initializer's bytes once those are written (`resolveAliases`). */
  private readonly aliases: Array<{ alias: TensorProto; target: string }> = []

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
   * (quantize-blocks.ts). Only for quantized exports; `in` must be a multiple of 32. A second call for the same
   * `source` returns the first call's inputs, under the first call's names (a tied head shares the embedding's).
   */
  quantized(name: string, source: string): QuantizedInputs {
    const known = this.quantizedBySource.get(source)
    if (known !== undefined) return known
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
    // Fitted zero points come from the values alone: the source need not decode its groups (for the K-quants,
    // 4 s of a 0.62 GB import) unless another use of the weight wants them.
    if (!fitsZeroPoints(entry, bits, this.compute))
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
    const inputs: QuantizedInputs = {
      weight: packedWeight.name,
      scales: scales.name,
      zeroPoints: zeroPoints.name,
      rows,
      columns,
      bits,
    }
    this.quantizedBySource.set(source, inputs)
    return inputs
  }

  /**
   * The token embedding `source` `[vocab, hidden]` as com.microsoft GatherBlockQuantized inputs (data
   * `[vocab, hidden·bits/8]`, scales `[vocab, blocks]`, zero points `[vocab, blocks·bits/8]`), or undefined when it
   * stays float (gathersQuantized). They are views of the MatMulNBits blocks `quantized` writes from the same
   * weight, which a tied head reads too: the bytes are written once.
   */
  quantizedGather(name: string, source: string): QuantizedInputs | undefined {
    const entry = this.entry(source)
    if (!gathersQuantized(entry, this.linearBits(entry), this.compute)) return undefined
    const blocks = this.quantized(name, source)
    const groups = blocks.columns / quantBlockSize
    const view = (suffix: string, target: string, type: ElementTypeName, columns: number): string => {
      const alias = this.declare(`${name}.gather_${suffix}`, type, [blocks.rows, columns])
      this.aliases.push({ alias, target })
      return alias.name
    }
    return {
      ...blocks,
      weight: view('data', blocks.weight, 'uint8', (blocks.columns * blocks.bits) / 8),
      scales: view('scales', blocks.scales, 'float32', groups),
      zeroPoints: view('zero_points', blocks.zeroPoints, 'uint8', Math.ceil((groups * blocks.bits) / 8)),
    }
  }

  /** Point every view (`quantizedGather`) at its target's bytes; call once every weight is written. */
  resolveAliases(): void {
    const initializers = new Map(this.graph.graph.initializer.map((tensor) => [tensor.name, tensor]))
    for (const { alias, target } of this.aliases) {
      const written = initializers.get(target)
      if (written === undefined) throw new TillerError('internal', `No initializer ${target} to view.`)
      setExternalData(alias, externalDataInfo(written))
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
