/**
 * PyTorch's default initialization of HPR's modules, seeded: nn.Linear draws weights (kaiming-uniform with a = √5)
 * and biases from U(−1/√in, 1/√in); the probe is a bias-free Linear(width, 1).
 */
import { createRandom } from '../../random-streams.ts'
import { angleNames } from './angle-graph.ts'
import type { GraphParameter } from './graph-session.ts'
import type { AngleNetworkValues } from './stacked-angle-layout.ts'

function uniform(size: number, bound: number, seed: number, label: string): Float32Array {
  const random = createRandom(seed).fork(label)
  const values = new Float32Array(size)
  for (let index = 0; index < size; index++) values[index] = (random.float() * 2 - 1) * bound
  return values
}

/** Initial probes θ for `layers` (0-based block numbers), stacked: [layers.length, width]. */
export function initialProbes(layers: readonly number[], width: number, seed: number): Float32Array {
  const probes = new Float32Array(layers.length * width)
  layers.forEach((layer, slot) => {
    probes.set(uniform(width, 1 / Math.sqrt(width), seed, `hpr:probe:${layer}`), slot * width)
  })
  return probes
}

/** Initial angle network of block `layer` in the edit's layout (weight i [out, in], bias i [out]). */
export function initialAngleValues(
  layer: number,
  widths: readonly number[],
  seed: number,
): AngleNetworkValues {
  const weights: Float32Array[] = []
  const biases: Float32Array[] = []
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    const bound = 1 / Math.sqrt(input)
    weights.push(uniform(output * input, bound, seed, `hpr:angle:${layer}:weight:${linear}`))
    biases.push(uniform(output, bound, seed, `hpr:angle:${layer}:bias:${linear}`))
  }
  return { weights, biases }
}

/** Initial angle network of block `layer`, named for slot `slot` of the per-layer graphs (angle-graph.ts). */
export function initialAngleNetwork(
  layer: number,
  slot: number,
  widths: readonly number[],
  seed: number,
): Map<string, GraphParameter> {
  const values = initialAngleValues(layer, widths, seed)
  const parameters = new Map<string, GraphParameter>()
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    parameters.set(angleNames.linearWeight(slot, linear), {
      values: values.weights[linear] as Float32Array,
      dims: [output, input],
    })
    parameters.set(angleNames.linearBias(slot, linear), {
      values: values.biases[linear] as Float32Array,
      dims: [output],
    })
  }
  return parameters
}
