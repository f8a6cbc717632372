import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import onnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { detectGraphFamily, graphOpTypes } from '../../src/main/core/runtime/graph-family.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'

const { onnx } = onnxProto
const organismGraph = join(import.meta.dirname, '../../resources/models/organism/onnx/model.onnx')
const builderGraph = sharedFixture('ortgenai-tiny-llama-fp16/model.onnx')

/** The reference: every node's op type, decoded by the full ONNX protobuf decoder. */
function decodedOpTypes(path: string): Set<string> {
  const model = onnx.ModelProto.decode(readFileSync(path))
  return new Set(
    (model.graph?.node ?? []).map((node) => {
      const domain = node.domain ?? ''
      return domain === '' || domain === 'ai.onnx' ? String(node.opType) : `${domain}::${node.opType}`
    }),
  )
}

/**
 * A graph of 4,000 nodes of varied lengths (four ai.onnx op types, plus one com.microsoft GroupQueryAttention when
 * `builderOp`), hundreds of KB that graphOpTypes reads through several 64 KB windows, with 200 KB of embedded
 * weights (GraphProto's initializer field, written after the nodes) that it must skip without reading.
 */
function writeLargeGraph(path: string, builderOp: boolean): void {
  const weights = (name: string, count: number) =>
    onnx.TensorProto.create({
      name,
      dims: [count],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(new Float32Array(count).fill(0.5).buffer),
    })
  const opTypes = ['MatMul', 'Add', 'Softmax', 'Reshape']
  const nodes = Array.from({ length: 4000 }, (_, index) =>
    onnx.NodeProto.create({
      name: `node_${index}_${'x'.repeat(index % 97)}`,
      opType:
        builderOp && index === 2500 ? 'GroupQueryAttention' : (opTypes[index % opTypes.length] as string),
      domain: builderOp && index === 2500 ? 'com.microsoft' : '',
      input: [`value_${index}`],
      output: [`value_${index + 1}`],
    }),
  )
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: onnx.GraphProto.create({
      name: 'large',
      initializer: [weights('first', 50_000)],
      node: nodes,
      input: [],
      output: [],
    }),
  })
  writeFileSync(path, onnx.ModelProto.encode(model).finish())
}

describe('graphOpTypes', () => {
  let folder = ''
  let largeGraph = ''
  let plainGraph = ''

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-graph-family-'))
    largeGraph = join(folder, 'large.onnx')
    writeLargeGraph(largeGraph, true)
    plainGraph = join(folder, 'plain.onnx')
    writeLargeGraph(plainGraph, false)
  })

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('reads the same op types as the full decoder, across read windows and skipped weights', () => {
    expect(readFileSync(largeGraph).length).toBeGreaterThan(4 * 64 * 1024)
    const ops = graphOpTypes(largeGraph)
    expect(ops).toEqual(decodedOpTypes(largeGraph))
    expect(ops.has('com.microsoft::GroupQueryAttention')).toBe(true)
    expect(detectGraphFamily(largeGraph)).toBe('builder')
    expect(graphOpTypes(plainGraph)).toEqual(new Set(['MatMul', 'Add', 'Softmax', 'Reshape']))
    expect(detectGraphFamily(plainGraph)).toBe('optimum')
  })

  it('reads the organism and the genai builder fixture like the full decoder', () => {
    expect(graphOpTypes(organismGraph)).toEqual(decodedOpTypes(organismGraph))
    // The organism is exported with the builder's fused operators (MultiHeadAttention, SkipSimplifiedLayerNorm).
    expect(detectGraphFamily(organismGraph)).toBe('builder')
    expect(graphOpTypes(builderGraph)).toEqual(decodedOpTypes(builderGraph))
    expect(detectGraphFamily(builderGraph)).toBe('builder')
  })

  it('calls a truncated file unknown', () => {
    const truncated = join(folder, 'truncated.onnx')
    writeFileSync(truncated, readFileSync(largeGraph).subarray(0, 300_000))
    expect(detectGraphFamily(truncated)).toBe('unknown')
  })
})
