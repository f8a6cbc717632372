import { TillerError } from '../../errors.ts'
import type { GraphBuilder } from '../../onnx/builder.ts'
import { ExternalDataWriter, externalTensor } from '../../onnx/external-data.ts'
import { halvesToFloats, floatsToHalves } from '../../../../shared/float16.ts'
import { bytesOf } from '../../onnx/tensor.ts'
import { quantBlockSize, quantizeLinearWeight } from './quantize-blocks.ts'
import { expectedWeightShapes, type LlamaCheckpoint, type WeightTensor } from '../checkpoint.ts'

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
 * with integer zero points, which its kernel needs, and 8 bits to keep them within 1/32 of a step (linearBitsOf).
 */
export type LinearCompute = 'int8' | 'float32'

/** The compute of q4/q8 exports when none is asked for: int8, the fast one. */
export const defaultLinearCompute: LinearCompute = 'int8'

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

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

/**
 * Check that the checkpoint holds every weight its config needs, with the right shape and a matching amount of
 * data. Throws TillerError('shape-mismatch') naming the tensor, the expected and the actual shape.
 */
export function validateCheckpoint(checkpoint: LlamaCheckpoint): void {
  for (const [name, expected] of expectedWeightShapes(checkpoint.config)) {
    const tensor = checkpoint.weights.get(name)
    if (tensor === undefined) {
      throw new TillerError(
        'shape-mismatch',
        `Weight ${name} is missing from the checkpoint (expected shape ${shapeText(expected)}).`,
        { subject: name },
      )
    }
    const sameShape =
      tensor.shape.length === expected.length && tensor.shape.every((dim, at) => dim === expected[at])
    if (!sameShape) {
      throw new TillerError(
        'shape-mismatch',
        `Weight ${name} has shape ${shapeText(tensor.shape)} but the config needs ${shapeText(expected)}; ` +
          'check the config sizes (hidden, heads, kv heads, head dim, intermediate, vocab) against the weights.',
        { subject: name },
      )
    }
    const count = expected.reduce((product, dim) => product * dim, 1)
    if (tensor.data.length !== count) {
      throw new TillerError(
        'shape-mismatch',
        `Weight ${name} declares shape ${shapeText(tensor.shape)} but holds ${tensor.data.length} values.`,
        { subject: name },
      )
    }
    const arrayMatches =
      tensor.dtype === 'float32' ? tensor.data instanceof Float32Array : tensor.data instanceof Uint16Array
    if (!arrayMatches) {
      throw new TillerError(
        'unsupported-tensor-type',
        `Weight ${name} is ${tensor.dtype} but its data array is not.`,
        {
          subject: name,
        },
      )
    }
  }
}

/** `[rows, columns]` → `[columns, rows]`, for either element type. */
function transpose<T extends Float32Array | Uint16Array>(data: T, rows: number, columns: number): T {
  const result = new (data.constructor as new (length: number) => T)(data.length)
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++)
      result[column * rows + row] = data[row * columns + column] ?? 0
  }
  return result
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
  maximumError: number
  byBits: Record<'4' | '8', { tensors: number; maximumError: number }>
}

/**
 * Whether a q4 export keeps the checkpoint's precision mix: true when some matrix was stored with 4 bits or fewer
 * (a Q4_K_M file's Q4_K), so its more precise matrices (Q6_K, Q8_0, F16, ...) are the file's deliberate choice
 * and get 8 bits. A checkpoint without such matrices (an F16 or Q8_0 file, or one without source bits) is
 * requantized to 4 bits throughout, as `--dtype q4` asks.
 */
function keepsMix(checkpoint: LlamaCheckpoint): boolean {
  for (const tensor of checkpoint.weights.values()) {
    if (tensor.shape.length === 2 && tensor.sourceBits !== undefined && tensor.sourceBits <= 4) return true
  }
  return false
}

/**
 * The MatMulNBits bits each matrix of `checkpoint` gets in a `dtype` export with `compute`, as a function of the
 * tensor: undefined for float exports, 8 in q8, and in q4 8 for a source weight above 4 bits when the checkpoint
 * keeps its mix (keepsMix), 8 for blocks with offsets (Q4_1, Q4_K) under int8 compute (their quants kept within
 * 1/32 of a step, where 4 bits would round each block's zero point by up to half a step: quantize-blocks.ts
 * integerZeroPoints), else 4.
 */
export function linearBitsOf(
  checkpoint: LlamaCheckpoint,
  dtype: ExportDType,
  compute: LinearCompute,
): (tensor: WeightTensor) => 4 | 8 | undefined {
  const exportBits = quantBitsOf(dtype)
  const mixed = exportBits === 4 && keepsMix(checkpoint)
  return (tensor) => {
    if (exportBits !== 4) return exportBits
    if (mixed && (tensor.sourceBits ?? 0) > 4) return 8
    return compute === 'int8' && tensor.blocks?.offsets !== undefined ? 8 : 4
  }
}

/**
 * Writes weights into the graph's one external data file as they are added, so large checkpoints stream
 * through without a second full copy in memory. HF Linear weights `[out, in]` are stored transposed
 * (`[in, out]`), the layout MatMul reads.
 */
export class WeightStore {
  readonly dtype: FloatType
  /** MatMulNBits bits of linear weights, undefined when they are float (MatMul). */
  readonly quantBits: 4 | 8 | undefined
  /** What the MatMulNBits nodes multiply in (quantized exports). */
  readonly compute: LinearCompute
  /**
   * What `quantized` did: tensors copied exactly, copied with float zero points, requantized, the largest
   * difference to the float values, and the same per MatMulNBits width.
   */
  readonly quantization: QuantizationReport = {
    exactTensors: 0,
    offsetTensors: 0,
    requantizedTensors: 0,
    maximumError: 0,
    byBits: { '4': { tensors: 0, maximumError: 0 }, '8': { tensors: 0, maximumError: 0 } },
  }
  /** The bits of each linear weight (linearBitsOf): 8 for precise source weights in a mixed q4 export. */
  private readonly linearBits: (tensor: WeightTensor) => 4 | 8 | undefined
  private readonly graph: GraphBuilder
  private readonly checkpoint: LlamaCheckpoint
  private readonly data: ExternalDataWriter

  constructor(
    graph: GraphBuilder,
    checkpoint: LlamaCheckpoint,
    data: ExternalDataWriter,
    dtype: ExportDType,
    compute: LinearCompute = defaultLinearCompute,
  ) {
    this.compute = compute
    this.graph = graph
    this.checkpoint = checkpoint
    this.data = data
    this.dtype = floatTypeOf(dtype)
    this.quantBits = quantBitsOf(dtype)
    this.linearBits = linearBitsOf(checkpoint, dtype, compute)
  }

  private source(name: string): WeightTensor {
    const tensor = this.checkpoint.weights.get(name)
    if (tensor === undefined)
      throw new TillerError('shape-mismatch', `Weight ${name} is missing.`, { subject: name })
    return tensor
  }

  private write(name: string, dims: number[], values: Float32Array | Uint16Array): string {
    const info = this.data.append(bytesOf(values))
    return this.graph.addInitializer(externalTensor(name, this.dtype, dims, info))
  }

  /**
   * Add an HF Linear weight `[out, in]` as MatMulNBits inputs named `${name}.{weight,scales,zero_points}`
   * (quantize-blocks.ts). Only for quantized exports; `in` must be a multiple of 32.
   */
  quantized(
    name: string,
    source: string,
  ): { weight: string; scales: string; zeroPoints: string; rows: number; columns: number; bits: 4 | 8 } {
    const tensor = this.source(source)
    const bits = this.linearBits(tensor)
    if (bits === undefined) throw new TillerError('internal', `Weight ${name}: the export is not quantized.`)
    const [rows, columns] = tensor.shape as [number, number]
    if (columns % quantBlockSize !== 0) {
      throw new TillerError(
        'unsupported-tensor-type',
        `Weight ${source} has ${columns} input columns, not a multiple of ${quantBlockSize}; export it as float32 or float16.`,
        { subject: source },
      )
    }
    // Float zero points only where ONNX Runtime computes them: 4 bits, float compute (quantize-blocks.ts).
    const quantized = quantizeLinearWeight(tensor, bits, bits === 4 && this.compute === 'float32')
    if (quantized.source === 'exact') this.quantization.exactTensors += 1
    else if (quantized.source === 'offsets') this.quantization.offsetTensors += 1
    else this.quantization.requantizedTensors += 1
    this.quantization.maximumError = Math.max(this.quantization.maximumError, quantized.maximumError)
    const width = this.quantization.byBits[bits === 4 ? '4' : '8']
    width.tensors += 1
    width.maximumError = Math.max(width.maximumError, quantized.maximumError)
    const blocks = columns / quantBlockSize
    const add = (suffix: string, type: 'uint8' | 'float32', dims: number[], bytes: Uint8Array): string =>
      this.graph.addInitializer(externalTensor(`${name}.${suffix}`, type, dims, this.data.append(bytes)))
    return {
      weight: add('weight', 'uint8', [rows, blocks, (quantBlockSize * bits) / 8], quantized.packed),
      scales: add('scales', 'float32', [rows * blocks], bytesOf(quantized.scales)),
      zeroPoints:
        quantized.zeroPoints instanceof Float32Array
          ? add('zero_points', 'float32', [rows * blocks], bytesOf(quantized.zeroPoints))
          : add('zero_points', 'uint8', [quantized.zeroPoints.length], quantized.zeroPoints),
      rows,
      columns,
      bits,
    }
  }

  /** Add checkpoint weight `source` unchanged (embeddings `[vocab, hidden]`, norm weights `[hidden]`). */
  asIs(name: string, source: string): string {
    const tensor = this.source(source)
    return this.write(name, tensor.shape, convert(tensor.data, tensor.dtype, this.dtype))
  }

  /** Add an HF Linear weight `[out, in]` transposed to `[in, out]` for MatMul. */
  transposed(name: string, source: string): string {
    const tensor = this.source(source)
    const [rows, columns] = tensor.shape as [number, number]
    return this.write(
      name,
      [columns, rows],
      transpose(convert(tensor.data, tensor.dtype, this.dtype), rows, columns),
    )
  }

  /** Add computed float32 values (e.g. RoPE caches), converted to the export dtype. */
  computed(name: string, dims: number[], values: Float32Array): string {
    return this.write(name, dims, convert(values, 'float32', this.dtype))
  }
}
