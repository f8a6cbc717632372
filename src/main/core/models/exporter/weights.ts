import { TillerError } from '../../errors.ts'
import type { GraphBuilder } from '../../onnx/builder.ts'
import { ExternalDataWriter, externalTensor } from '../../onnx/external-data.ts'
import { halvesToFloats, floatsToHalves } from '../../../../shared/float16.ts'
import { bytesOf } from '../../onnx/tensor.ts'
import { expectedWeightShapes, type LlamaCheckpoint, type WeightTensor } from '../checkpoint.ts'

/** Element type of the exported graph's weights, activations and KV cache. */
export type ExportDType = 'float32' | 'float16'

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
  to: ExportDType,
): Float32Array | Uint16Array {
  if (from === to) return data
  return to === 'float16' ? floatsToHalves(data as Float32Array) : halvesToFloats(data as Uint16Array)
}

/**
 * Writes weights into the graph's one external data file as they are added, so large checkpoints stream
 * through without a second full copy in memory. HF Linear weights `[out, in]` are stored transposed
 * (`[in, out]`), the layout MatMul reads.
 */
export class WeightStore {
  readonly dtype: ExportDType
  private readonly graph: GraphBuilder
  private readonly checkpoint: LlamaCheckpoint
  private readonly data: ExternalDataWriter

  constructor(
    graph: GraphBuilder,
    checkpoint: LlamaCheckpoint,
    data: ExternalDataWriter,
    dtype: ExportDType,
  ) {
    this.graph = graph
    this.checkpoint = checkpoint
    this.data = data
    this.dtype = dtype
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
