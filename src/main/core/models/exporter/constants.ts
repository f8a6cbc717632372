import type { GraphBuilder } from '../../onnx/builder.ts'
import { floatsToHalves } from '../../../../shared/float16.ts'
import { int64Tensor, makeTensor } from '../../onnx/tensor.ts'
import type { FloatType } from './weights.ts'

/**
 * Small constant initializers (shapes, axes, scalars), embedded in the graph and shared by value: asking twice
 * for int64 [0, 0, -1] returns the same initializer. Names follow the builder's `/model/constants/...` style.
 */
export class Constants {
  private readonly graph: GraphBuilder
  private readonly floatType: FloatType
  private readonly cache = new Map<string, string>()

  constructor(graph: GraphBuilder, floatType: FloatType) {
    this.graph = graph
    this.floatType = floatType
  }

  /** An int64 tensor: a scalar when `scalar`, else 1-D. */
  int64(values: readonly number[], scalar = false): string {
    const name = `/model/constants/INT64/${scalar ? '0D' : '1D'}/${values.join(',')}`
    const cached = this.cache.get(name)
    if (cached !== undefined) return cached
    this.graph.addInitializer(int64Tensor(name, values, scalar ? [] : [values.length]))
    this.cache.set(name, name)
    return name
  }

  /** A float scalar, in the graph's float type unless `type` says otherwise. */
  float(value: number, type: FloatType = this.floatType): string {
    const name = `/model/constants/${type === 'float16' ? 'FLOAT16' : 'FLOAT'}/0D/${value}`
    const cached = this.cache.get(name)
    if (cached !== undefined) return cached
    const tensor =
      type === 'float16'
        ? makeTensor(name, 'float16', [], floatsToHalves(Float32Array.from([value])))
        : makeTensor(name, 'float32', [], Float32Array.from([value]))
    this.graph.addInitializer(tensor)
    this.cache.set(name, name)
    return name
  }
}
