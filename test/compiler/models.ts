import { buildTinyModel } from '../helpers/tiny-models.ts'
import { ortgenaiFixture, writableCopy } from './support.ts'

/**
 * The model folders every compiler/locator test runs on: the real onnxruntime-genai builder export (fp16,
 * MultiHeadAttention, fused Skip norms) and tiny models of both families built by Tiller's exporter.
 */
export interface TestModel {
  name: string
  /** Creates a fresh writable model folder. */
  create: () => Promise<string>
  /** float16 graphs round site values to float16 after every add. */
  activationType: 'float32' | 'float16'
}

export const testModels: TestModel[] = [
  {
    name: 'ortgenai-tiny-llama-fp16',
    create: async () => writableCopy(ortgenaiFixture),
    activationType: 'float16',
  },
  {
    name: 'tiny builder fp32',
    create: () => buildTinyModel({ family: 'builder', config: { numLayers: 3 } }),
    activationType: 'float32',
  },
  {
    name: 'tiny optimum fp32',
    create: () => buildTinyModel({ family: 'optimum', config: { numLayers: 3 } }),
    activationType: 'float32',
  },
  {
    name: 'tiny optimum fp16',
    create: () => buildTinyModel({ family: 'optimum', dtype: 'float16' }),
    activationType: 'float16',
  },
]
