import { TillerError } from '../../errors.ts'
import { expectedWeightShapes, hasLazyValues, type WeightTensor } from '../checkpoint.ts'
import type { StreamedCheckpoint } from '../weight-source.ts'

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

/**
 * Check, before any data is read, that the checkpoint holds every weight its config needs with the right shape.
 * Throws TillerError('shape-mismatch') naming the tensor, the expected and the actual shape.
 */
export function validateCheckpoint(checkpoint: StreamedCheckpoint): void {
  for (const [name, expected] of expectedWeightShapes(checkpoint.config)) {
    const entry = checkpoint.weights.entries.get(name)
    if (entry === undefined) {
      throw new TillerError(
        'shape-mismatch',
        `Weight ${name} is missing from the checkpoint (expected shape ${shapeText(expected)}).`,
        { subject: name },
      )
    }
    const sameShape =
      entry.shape.length === expected.length && entry.shape.every((dim, at) => dim === expected[at])
    if (!sameShape) {
      throw new TillerError(
        'shape-mismatch',
        `Weight ${name} has shape ${shapeText(entry.shape)} but the config needs ${shapeText(expected)}; ` +
          'check the config sizes (hidden, heads, kv heads, head dim, intermediate, vocab) against the weights.',
        { subject: name },
      )
    }
  }
}

/**
 * How many values a loaded weight holds. Values computed on demand come from the blocks, one per quant: counting
 * the quants does not compute them.
 */
export function valueCount(tensor: WeightTensor): number {
  return hasLazyValues(tensor) && tensor.blocks !== undefined
    ? tensor.blocks.quants.length
    : tensor.data.length
}

/**
 * Check a loaded weight against the shape its entry declared: the amount of data and the array type of its
 * dtype. Throws TillerError('shape-mismatch') or ('unsupported-tensor-type') naming the tensor.
 */
export function validateLoadedWeight(name: string, shape: readonly number[], tensor: WeightTensor): void {
  const count = shape.reduce((product, dim) => product * dim, 1)
  const held = valueCount(tensor)
  if (held !== count || shapeText(tensor.shape) !== shapeText(shape)) {
    throw new TillerError(
      'shape-mismatch',
      `Weight ${name} declares shape ${shapeText(shape)} but holds ${held} values.`,
      { subject: name },
    )
  }
  if (hasLazyValues(tensor)) return
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
