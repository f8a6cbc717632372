import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { fitLogisticProbes } from '../../src/main/core/methods/batched-logistic-probes.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { datasetsDirectory, organismModelDirectory } from '../../src/organism/organism-paths.ts'
import {
  fitLogisticProbe,
  type LogisticProbe,
  type ProbeSamples,
} from '../../src/main/core/methods/logistic-probe.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import { random } from './synthetic.ts'

/** Two classes shifted by `separation` along a random direction, plus a per-head offset; labels alternate. */
function headSamples(samples: number, dimension: number, separation: number, seed: number): ProbeSamples {
  const draw = random(seed)
  const direction = Array.from({ length: dimension }, () => draw.gaussian() / Math.sqrt(dimension))
  const offset = Array.from({ length: dimension }, () => 2 * draw.gaussian())
  const labels = Uint8Array.from({ length: samples }, (_, index) => index % 2)
  const features = Array.from(labels, (label) =>
    Float64Array.from(
      { length: dimension },
      (_, column) =>
        (offset[column] as number) +
        draw.gaussian() +
        (label === 1 ? 0.5 : -0.5) * separation * (direction[column] as number),
    ),
  )
  return { features, labels }
}

/** Largest parameter difference between two probes, relative to 1 + the reference's largest parameter. */
function relativeDifference(probe: LogisticProbe, reference: LogisticProbe): number {
  const scale = 1 + Math.max(...reference.weights.map(Math.abs), Math.abs(reference.bias))
  let largest = Math.abs(probe.bias - reference.bias)
  probe.weights.forEach((weight, column) => {
    largest = Math.max(largest, Math.abs(weight - (reference.weights[column] as number)))
  })
  return largest / scale
}

describe('fitLogisticProbes (all heads of a layer, Hessians in one batched product)', () => {
  it('reaches the float64 Newton solution of every head, from inseparable to separable data', async () => {
    const separations = [0, 0.5, 2, 4, 8, 30]
    const heads = separations.map((separation, index) => headSamples(240, 24, separation, 10 + index))
    const batched = await fitLogisticProbes(heads, { threads: 1 })
    heads.forEach((head, index) => {
      const reference = fitLogisticProbe(head)
      const probe = batched[index]
      if (probe === undefined) throw new Error('missing probe')
      expect(reference.converged).toBe(true)
      expect(probe.converged).toBe(true)
      expect(relativeDifference(probe, reference)).toBeLessThan(1e-8)
      expect(probe.iterations).toBeLessThanOrEqual(reference.iterations + 3)
    })
  })

  it('refuses heads whose samples differ in shape', async () => {
    await expect(
      fitLogisticProbes([headSamples(20, 4, 1, 1), headSamples(20, 5, 1, 2)]),
    ).rejects.toBeInstanceOf(TillerError)
  })

  it('matches the float64 Newton probes of every organism head (attn_heads, 40 truthfulness pairs)', async () => {
    const model = await loadModel(organismModelDirectory, { provider: 'cpu' })
    try {
      const set = await readDemonstrationFile(join(datasetsDirectory, 'truthfulness.pairs.jsonl'))
      const pairs = contrastPairs(set, 'train').slice(0, 40)
      const tokenizer = await loadRenderTokenizer(organismModelDirectory)
      const rendered = renderPairs(pairs, tokenizer, set.source, { contrast: 'completion' })
      const layers = Array.from({ length: model.config.layers }, (_, layer) => layer)
      const activations = await captureActivations(model, rendered.examples, {
        site: 'attn_heads',
        selector: 'last',
        layers,
        cacheDirectory: false,
      })
      const heads = model.config.heads
      const headDim = activations.width / heads
      let largest = 0
      for (const layerIndex of layers.keys()) {
        const positive = activations.positive[layerIndex] as Float32Array
        const negative = activations.negative[layerIndex] as Float32Array
        const samples = Array.from({ length: heads }, (_, head): ProbeSamples => {
          const features: Float64Array[] = []
          const labels = new Uint8Array(2 * activations.rows)
          for (let pair = 0; pair < activations.rows; pair++) {
            const start = pair * activations.width + head * headDim
            features.push(Float64Array.from(positive.subarray(start, start + headDim)))
            features.push(Float64Array.from(negative.subarray(start, start + headDim)))
            labels[2 * pair] = 1
          }
          return { features, labels }
        })
        const batched = await fitLogisticProbes(samples, { threads: 1 })
        samples.forEach((head, index) => {
          const reference = fitLogisticProbe(head)
          expect(batched[index]?.converged).toBe(reference.converged)
          largest = Math.max(largest, relativeDifference(batched[index] as LogisticProbe, reference))
        })
      }
      // The float32 Hessians leave the last steps linear: 3.5e-8 measured, well below any accuracy flip.
      expect(largest).toBeLessThan(1e-7)
    } finally {
      await model.dispose()
    }
  })
})
