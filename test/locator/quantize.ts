import { join } from 'node:path'
import { makeAttribute } from '../../src/main/core/onnx/builder.ts'
import { sortTopologically } from '../../src/main/core/onnx/graph-index.ts'
import {
  loadModel as loadGraph,
  readTensorValues,
  saveModel,
} from '../../src/main/core/onnx/external-data.ts'
import { floatsToHalves, halvesToFloats } from '../../src/shared/float16.ts'
import {
  tensorDims,
  TensorElementType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../../src/main/core/onnx/proto.ts'
import { makeTensor } from '../../src/main/core/onnx/tensor.ts'

/**
 * Quantized variants of a model folder's graph, written the way ONNX Runtime's quantizers write them
 * (RUNTIME-NOTES §2.4), so the locator is tested on their node names and op chains:
 *   integer  DynamicQuantizeLinear + MatMulInteger (`<name>_quant`) + Cast + two Muls restoring the output name
 *   nbits    MatMulNBits named `<name>_Q4`; with `renameOutputs`, the output tensor also gets `_Q4` appended
 *   bnb4     com.microsoft MatMulBnb4 (`<name>_Q4`, NF4 codes per block of 64 with absmax scales), bitsandbytes'
 *            4-bit layout as `model_bnb4.onnx` ships it
 *   dynamic  com.microsoft DynamicQuantizeMatMul (`<name>_quant`): the fused form ORT's graph optimizer makes of
 *            the integer chain, as optimized int8 exports ship it; float16 graphs cast around it
 * Every linear projection inside a decoder layer is replaced; the embedding and the head stay float.
 */

function node(
  name: string,
  opType: string,
  input: string[],
  output: string[],
  attributes: Record<string, number> = {},
  domain = '',
): NodeProto {
  return {
    name,
    opType,
    domain,
    input,
    output,
    attribute: Object.entries(attributes).map(([key, value]) => makeAttribute(key, value)),
  }
}

function weightOf(
  model: ModelProto,
  directory: string,
  matmul: NodeProto,
): { tensor: TensorProto; values: Float32Array; k: number; n: number } | undefined {
  const tensor = model.graph.initializer.find((candidate) => candidate.name === matmul.input[1])
  if (tensor === undefined) return undefined
  const [k, n] = tensorDims(tensor)
  const raw = readTensorValues(directory, tensor)
  const values =
    tensor.dataType === TensorElementType.float16 ? halvesToFloats(raw as Uint16Array) : (raw as Float32Array)
  return { tensor, values, k: k ?? 0, n: n ?? 0 }
}

/** max |value| without spreading (a real model's weight overflows the argument list). */
function largestMagnitude(values: Float32Array): number {
  let largest = 0
  for (const value of values) largest = Math.max(largest, Math.abs(value))
  return largest
}

function layerMatMuls(model: ModelProto): NodeProto[] {
  return model.graph.node.filter(
    (candidate) => candidate.opType === 'MatMul' && /\/layers\.\d+\//.test(candidate.name),
  )
}

function toInteger(model: ModelProto, directory: string, float16: boolean): void {
  // One DynamicQuantizeLinear per activation, shared by the projections that read it (q, k, v; gate, up).
  const quantizedInputs = new Set<string>()
  for (const matmul of layerMatMuls(model)) {
    const weight = weightOf(model, directory, matmul)
    if (weight === undefined) continue
    const name = matmul.name
    const scale = largestMagnitude(weight.values) / 127 || 1
    const quantized = Int8Array.from(weight.values, (value) =>
      Math.max(-127, Math.min(127, Math.round(value / scale))),
    )
    model.graph.initializer.push(
      makeTensor(`${weight.tensor.name}_quantized`, 'int8', [weight.k, weight.n], quantized),
    )
    model.graph.initializer.push(
      makeTensor(`${weight.tensor.name}_scale`, 'float32', [], Float32Array.of(scale)),
    )
    model.graph.initializer.push(makeTensor(`${weight.tensor.name}_zero_point`, 'int8', [], Int8Array.of(0)))
    const input = matmul.input[0] ?? ''
    const output = matmul.output[0] ?? ''
    const floatInput = float16 ? `${input}_to_float` : input
    const nodes: NodeProto[] = []
    if (!quantizedInputs.has(input)) {
      quantizedInputs.add(input)
      if (float16)
        nodes.push(
          node(`${name}_input_cast`, 'Cast', [input], [floatInput], { to: TensorElementType.float32 }),
        )
      nodes.push(
        node(
          `${input}_QuantizeLinear`,
          'DynamicQuantizeLinear',
          [floatInput],
          [`${floatInput}_quantized`, `${floatInput}_scale`, `${floatInput}_zero_point`],
        ),
      )
    }
    nodes.push(
      node(
        `${name}_quant`,
        'MatMulInteger',
        [
          `${floatInput}_quantized`,
          `${weight.tensor.name}_quantized`,
          `${floatInput}_zero_point`,
          `${weight.tensor.name}_zero_point`,
        ],
        [`${output}_output_quantized`],
      ),
      node(
        `${name}_quant_cast`,
        'Cast',
        [`${output}_output_quantized`],
        [`${output}_output_quantized_cast`],
        { to: TensorElementType.float32 },
      ),
      node(
        `${name}_quant_scales_mul`,
        'Mul',
        [`${floatInput}_scale`, `${weight.tensor.name}_scale`],
        [`${output}_scales`],
      ),
      node(
        `${name}_quant_output_scale_mul`,
        'Mul',
        [`${output}_output_quantized_cast`, `${output}_scales`],
        [float16 ? `${output}_float` : output],
      ),
    )
    if (float16)
      nodes.push(
        node(`${name}_output_cast`, 'Cast', [`${output}_float`], [output], { to: TensorElementType.float16 }),
      )
    model.graph.node.splice(model.graph.node.indexOf(matmul), 1, ...nodes)
  }
  sortTopologically(model.graph)
}

function toDynamic(model: ModelProto, directory: string, float16: boolean): void {
  for (const matmul of layerMatMuls(model)) {
    const weight = weightOf(model, directory, matmul)
    if (weight === undefined) continue
    const scale = largestMagnitude(weight.values) / 127 || 1
    const name = weight.tensor.name
    model.graph.initializer.push(
      makeTensor(
        `${name}_quantized`,
        'int8',
        [weight.k, weight.n],
        Int8Array.from(weight.values, (value) => Math.max(-127, Math.min(127, Math.round(value / scale)))),
      ),
      makeTensor(`${name}_scale`, 'float32', [], Float32Array.of(scale)),
      makeTensor(`${name}_zero_point`, 'int8', [], Int8Array.of(0)),
    )
    const input = matmul.input[0] ?? ''
    const output = matmul.output[0] ?? ''
    const nodes: NodeProto[] = []
    if (float16)
      nodes.push(node(`${matmul.name}_input_cast`, 'Cast', [input], [`${output}_input_float`], { to: 1 }))
    nodes.push(
      node(
        `${matmul.name}_quant`,
        'DynamicQuantizeMatMul',
        [
          float16 ? `${output}_input_float` : input,
          `${name}_quantized`,
          `${name}_scale`,
          `${name}_zero_point`,
        ],
        [float16 ? `${output}_float` : output],
        {},
        'com.microsoft',
      ),
    )
    if (float16)
      nodes.push(
        node(`${matmul.name}_output_cast`, 'Cast', [`${output}_float`], [output], {
          to: TensorElementType.float16,
        }),
      )
    model.graph.node.splice(model.graph.node.indexOf(matmul), 1, ...nodes)
  }
  if (!model.opsetImport.some((opset) => opset.domain === 'com.microsoft'))
    model.opsetImport.push({ domain: 'com.microsoft', version: 1 })
}

/** bitsandbytes' NF4 levels (normal-float quantiles), code 0…15. */
const normalFloat4 = [
  -1, -0.6961928, -0.5250731, -0.3949175, -0.2844414, -0.1848449, -0.09105, 0, 0.0795803, 0.1609302,
  0.2461123, 0.3379152, 0.4407098, 0.562617, 0.7229568, 1,
]

function toBnb4(model: ModelProto, directory: string): void {
  const blockSize = 64
  for (const matmul of layerMatMuls(model)) {
    const weight = weightOf(model, directory, matmul)
    if (weight === undefined) continue
    const { k, n, values } = weight
    // Row-major [N, K] (the transpose of the MatMul weight [K, N]), flattened, in blocks of 64 with one absmax each.
    const transposed = new Float32Array(n * k)
    for (let row = 0; row < k; row++)
      for (let column = 0; column < n; column++) transposed[column * k + row] = values[row * n + column] ?? 0
    const blocks = Math.ceil((n * k) / blockSize)
    const absmax = new Float32Array(blocks)
    const packed = new Uint8Array(Math.ceil((n * k) / 2))
    for (let block = 0; block < blocks; block++) {
      const start = block * blockSize
      const end = Math.min(n * k, start + blockSize)
      let largest = 0
      for (let at = start; at < end; at++) largest = Math.max(largest, Math.abs(transposed[at] ?? 0))
      absmax[block] = largest || 1
      for (let at = start; at < end; at++) {
        const scaled = (transposed[at] ?? 0) / (absmax[block] ?? 1)
        let code = 0
        for (let level = 1; level < 16; level++)
          if (Math.abs(scaled - (normalFloat4[level] ?? 0)) < Math.abs(scaled - (normalFloat4[code] ?? 0)))
            code = level
        // Two codes per byte, the first in the high nibble (bitsandbytes' order).
        packed[at >> 1] = (packed[at >> 1] ?? 0) | (at % 2 === 0 ? code << 4 : code)
      }
    }
    const name = weight.tensor.name
    model.graph.initializer.push(
      makeTensor(`${name}_Bnb4`, 'uint8', [packed.length], packed),
      makeTensor(`${name}_absmax`, 'float32', [blocks], absmax),
    )
    const replacement = node(
      `${matmul.name}_Q4`,
      'MatMulBnb4',
      [matmul.input[0] ?? '', `${name}_Bnb4`, `${name}_absmax`],
      [matmul.output[0] ?? ''],
      { K: k, N: n, block_size: blockSize, quant_type: 1 },
      'com.microsoft',
    )
    model.graph.node.splice(model.graph.node.indexOf(matmul), 1, replacement)
  }
  if (!model.opsetImport.some((opset) => opset.domain === 'com.microsoft'))
    model.opsetImport.push({ domain: 'com.microsoft', version: 1 })
}

function toNBits(model: ModelProto, directory: string, float16: boolean, renameOutputs: boolean): void {
  const blockSize = 32
  for (const matmul of layerMatMuls(model)) {
    const weight = weightOf(model, directory, matmul)
    if (weight === undefined) continue
    const { k, n, values } = weight
    const blocks = Math.ceil(k / blockSize)
    const packed = new Uint8Array(n * blocks * (blockSize / 2))
    const scales = new Float32Array(n * blocks)
    for (let column = 0; column < n; column++) {
      for (let block = 0; block < blocks; block++) {
        let largest = 0
        for (let row = block * blockSize; row < Math.min(k, (block + 1) * blockSize); row++)
          largest = Math.max(largest, Math.abs(values[row * n + column] ?? 0))
        const scale = largest / 7 || 1
        scales[column * blocks + block] = scale
        for (let offset = 0; offset < blockSize; offset++) {
          const row = block * blockSize + offset
          const level =
            row < k ? Math.max(0, Math.min(15, Math.round((values[row * n + column] ?? 0) / scale) + 8)) : 8
          const byte = (column * blocks + block) * (blockSize / 2) + (offset >> 1)
          packed[byte] = (packed[byte] ?? 0) | (offset % 2 === 0 ? level : level << 4)
        }
      }
    }
    const name = weight.tensor.name
    model.graph.initializer.push(makeTensor(`${name}_Q4`, 'uint8', [n, blocks, blockSize / 2], packed))
    model.graph.initializer.push(
      float16
        ? makeTensor(`${name}_scales`, 'float16', [n * blocks], floatsToHalves(scales))
        : makeTensor(`${name}_scales`, 'float32', [n * blocks], scales),
    )
    const output = matmul.output[0] ?? ''
    const newOutput = renameOutputs ? `${output}_Q4` : output
    if (renameOutputs)
      for (const reader of model.graph.node)
        reader.input = reader.input.map((tensor) => (tensor === output ? newOutput : tensor))
    const replacement = node(
      `${matmul.name}_Q4`,
      'MatMulNBits',
      [matmul.input[0] ?? '', `${name}_Q4`, `${name}_scales`],
      [newOutput],
      { K: k, N: n, bits: 4, block_size: blockSize },
      'com.microsoft',
    )
    model.graph.node.splice(model.graph.node.indexOf(matmul), 1, replacement)
  }
  if (!model.opsetImport.some((opset) => opset.domain === 'com.microsoft'))
    model.opsetImport.push({ domain: 'com.microsoft', version: 1 })
}

/** Write a quantized copy of `graphFile` (relative to `folder`) as `<name>` next to it; returns its relative path. */
export async function writeQuantizedGraph(
  folder: string,
  graphFile: string,
  kind: 'integer' | 'dynamic' | 'bnb4' | 'nbits' | 'nbits-renamed',
  name: string,
): Promise<string> {
  const { model, directory } = await loadGraph(join(folder, graphFile))
  const float16 = model.graph.input.some(
    (input) =>
      input.name.startsWith('past_key_values.') &&
      input.type?.tensorType?.elemType === TensorElementType.float16,
  )
  if (kind === 'integer') toInteger(model, directory, float16)
  else if (kind === 'dynamic') toDynamic(model, directory, float16)
  else if (kind === 'bnb4') toBnb4(model, directory)
  else toNBits(model, directory, float16, kind === 'nbits-renamed')
  const relative = graphFile.includes('/')
    ? `${graphFile.slice(0, graphFile.lastIndexOf('/'))}/${name}`
    : name
  await saveModel(model, join(folder, relative))
  return relative
}
