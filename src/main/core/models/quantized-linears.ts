/**
 * What a graph's block-quantized linear layers (com.microsoft MatMulNBits) store and multiply in, read from the
 * nodes themselves so it holds for foreign graphs as for Tiller's exports: how many there are per bit width, and
 * per ONNX Runtime accuracy_level (0 or absent: float compute; 4: int8 compute, activations rounded to int8 per
 * block; 1–3: float32, float16, bfloat16 compute where a provider has it).
 */
import { loadModel as loadGraph } from '../onnx/external-data.ts'

export interface QuantizedLinears {
  /** MatMulNBits nodes in the graph. */
  count: number
  /** Node count per `bits` attribute. */
  byBits: Record<string, number>
  /** Node count per compute: 'int8' (accuracy_level 4), 'float' (0 or absent), else `accuracy_level N`. */
  byCompute: Record<string, number>
}

function computeName(level: number): string {
  if (level === 4) return 'int8'
  return level === 0 ? 'float' : `accuracy_level ${level}`
}

/** The MatMulNBits nodes of the graph at `graphPath` (the `.onnx` file; external data is not read). */
export async function quantizedLinears(graphPath: string): Promise<QuantizedLinears> {
  const { model } = await loadGraph(graphPath)
  const result: QuantizedLinears = { count: 0, byBits: {}, byCompute: {} }
  for (const node of model.graph.node) {
    if (node.opType !== 'MatMulNBits') continue
    const attribute = (name: string): number | undefined => {
      const found = node.attribute.find((entry) => entry.name === name)
      return found === undefined ? undefined : Number(found.i)
    }
    result.count += 1
    const bits = String(attribute('bits') ?? 4)
    result.byBits[bits] = (result.byBits[bits] ?? 0) + 1
    const compute = computeName(attribute('accuracy_level') ?? 0)
    result.byCompute[compute] = (result.byCompute[compute] ?? 0) + 1
  }
  return result
}

/** One line for people: `quantized linear layers: 85 MatMulNBits (73 at 4 bits, 12 at 8 bits), int8 compute`. */
export function describeQuantizedLinears(linears: QuantizedLinears): string {
  const widths = Object.entries(linears.byBits)
    .map(([bits, count]) => `${count} at ${bits} bits`)
    .join(', ')
  const computes = Object.entries(linears.byCompute)
    .map(([compute, count]) => (count === linears.count ? compute : `${count} ${compute}`))
    .join(', ')
  return `quantized linear layers: ${linears.count} MatMulNBits (${widths}), ${computes} compute`
}
