import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { GraphBuilder, makeNode, tensorValueInfo } from '../../src/main/core/onnx/builder.ts'
import {
  embedExternalData,
  externalDataInfo,
  loadModel,
  readTensorValues,
  saveModel,
  saveModelWithExternalData,
} from '../../src/main/core/onnx/external-data.ts'
import { GraphIndex } from '../../src/main/core/onnx/graph-index.ts'
import { exposeOutput, insertAfter } from '../../src/main/core/onnx/rewire.ts'
import { isExternal } from '../../src/main/core/onnx/tensor.ts'
import { floatData, runModel, runModelFile } from './session.ts'

const directories: string[] = []
function scratchDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'tiller-onnx-'))
  directories.push(directory)
  return directory
}
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true })
})

const size = 64
function deterministicMatrix(seed: number): Float32Array {
  return Float32Array.from({ length: size * size }, (_, index) => Math.sin(index * 0.37 + seed) * 0.1)
}

/** y = (x @ A) @ B + c, with A and B big enough to go external and c small enough to stay embedded. */
function linearModel(): GraphBuilder {
  const graph = new GraphBuilder({ opsets: { '': 17 } })
  graph.input('x', 'float32', ['batch', size])
  graph.initializer('A', 'float32', [size, size], deterministicMatrix(1))
  graph.initializer('B', 'float32', [size, size], deterministicMatrix(2))
  graph.initializer(
    'c',
    'float32',
    [size],
    Float32Array.from({ length: size }, (_, index) => index / size),
  )
  graph.node({ op: 'MatMul', name: '/first/MatMul', inputs: ['x', 'A'], outputs: ['h'] })
  graph.node({ op: 'MatMul', name: '/second/MatMul', inputs: ['h', 'B'], outputs: ['hb'] })
  graph.node({ op: 'Add', name: '/bias/Add', inputs: ['hb', 'c'], outputs: ['y'] })
  graph.output('y', 'float32', ['batch', size])
  return graph
}

const input = Float32Array.from({ length: 2 * size }, (_, index) => Math.cos(index))
const feeds = (): Record<string, ort.Tensor> => ({ x: new ort.Tensor('float32', input, [2, size]) })

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

describe('external data', () => {
  it('writes large initializers to one data file that ORT and the reader resolve', async () => {
    const reference = floatData(await runModel(linearModel().toModel(), feeds()), 'y')
    const directory = scratchDirectory()
    const graphPath = join(directory, 'model.onnx')
    await saveModelWithExternalData(linearModel().toModel(), graphPath, { thresholdBytes: 1024 })
    expect(statSync(join(directory, 'model.onnx_data')).size).toBeGreaterThanOrEqual(2 * size * size * 4)
    expect(statSync(graphPath).size).toBeLessThan(4096)

    const loaded = await loadModel(graphPath)
    const index = new GraphIndex(loaded.model.graph)
    const a = index.initializer('A')
    const c = index.initializer('c')
    expect(a && isExternal(a)).toBe(true)
    expect(c && isExternal(c)).toBe(false)
    expect(a && externalDataInfo(a)).toEqual({
      location: 'model.onnx_data',
      offset: 0,
      length: size * size * 4,
    })
    expect(a && Array.from(readTensorValues(loaded.directory, a) as Float32Array)).toEqual(
      Array.from(deterministicMatrix(1)),
    )

    const fromFile = floatData(await runModelFile(graphPath, feeds()), 'y')
    expect(Array.from(fromFile)).toEqual(Array.from(reference))

    embedExternalData(loaded)
    const embedded = floatData(await runModel(loaded.model, feeds()), 'y')
    expect(Array.from(embedded)).toEqual(Array.from(reference))
  })

  it('saves an edited graph next to the original data, which stays byte-identical', async () => {
    const directory = scratchDirectory()
    const graphPath = join(directory, 'model.onnx')
    await saveModelWithExternalData(linearModel().toModel(), graphPath)
    const dataHash = sha256(join(directory, 'model.onnx_data'))
    const reference = floatData(await runModelFile(graphPath, feeds()), 'y')

    const loaded = await loadModel(graphPath)
    // Double the hidden state between the two MatMuls and expose the original as a hook output.
    const editor = new GraphBuilder({ opsets: { '': 17 }, graph: loaded.model.graph })
    editor.initializer('/edits/two', 'float32', [], Float32Array.from([2]))
    insertAfter(loaded.model.graph, 'h', (tensor) => ({
      nodes: [
        makeNode({
          op: 'Mul',
          name: '/edits/double',
          inputs: [tensor, '/edits/two'],
          outputs: ['/edits/h2'],
        }),
      ],
      output: '/edits/h2',
    }))
    exposeOutput(loaded.model.graph, tensorValueInfo('h', 'float32', ['batch', size]))
    const editedPath = join(directory, 'edited.onnx')
    await saveModel(loaded.model, editedPath)

    const outputs = await runModelFile(editedPath, feeds())
    const y = floatData(outputs, 'y')
    const c = Float32Array.from({ length: size }, (_, index) => index / size)
    for (let index = 0; index < y.length; index++) {
      const bias = c[index % size] ?? 0
      expect(y[index]).toBeCloseTo(2 * ((reference[index] ?? 0) - bias) + bias, 4)
    }
    expect(outputs.h?.dims).toEqual([2, size])
    expect(sha256(join(directory, 'model.onnx_data'))).toBe(dataHash)
  })

  it('refuses to save a graph where its external data does not resolve', async () => {
    const directory = scratchDirectory()
    await saveModelWithExternalData(linearModel().toModel(), join(directory, 'model.onnx'))
    const loaded = await loadModel(join(directory, 'model.onnx'))
    const elsewhere = scratchDirectory()
    let caught: unknown
    try {
      await saveModel(loaded.model, join(elsewhere, 'edited.onnx'))
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'file-not-found')).toBe(true)
    expect(String(caught)).toContain('model.onnx_data')
  })

  it('edits the genai builder fixture: a hook output leaves the logits bit-identical and the data untouched', async () => {
    const fixtureDirectory = '../shared/fixtures/ortgenai-tiny-llama-fp16'
    const fixtureGraph = join(fixtureDirectory, 'model.onnx')
    try {
      statSync(fixtureGraph)
    } catch {
      throw new Error(`missing fixture ${fixtureGraph}`)
    }
    const directory = scratchDirectory()
    // NOTE: ORT resolves symlinks and refuses data outside the graph's directory, so the data is copied here.
    copyFileSync(join(fixtureDirectory, 'model.onnx.data'), join(directory, 'model.onnx.data'))
    const dataHash = sha256(join(directory, 'model.onnx.data'))
    const loaded = await loadModel(fixtureGraph)
    const residual = '/model/layers.0/post_attention_layernorm/output_3'
    exposeOutput(
      loaded.model.graph,
      tensorValueInfo(residual, 'float16', ['batch_size', 'sequence_length', 16]),
    )
    const editedPath = join(directory, 'hooked.onnx')
    await saveModel(loaded.model, editedPath)

    const ids = BigInt64Array.from([1n, 450n, 4996n])
    const feed: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [1, 3]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n]), [1, 3]),
    }
    for (const layer of [0, 1]) {
      for (const kind of ['key', 'value']) {
        feed[`past_key_values.${layer}.${kind}`] = new ort.Tensor(
          'float16',
          new Uint16Array(0),
          [1, 1, 0, 16],
        )
      }
    }
    const original = await runModelFile(fixtureGraph, feed)
    const hooked = await runModelFile(editedPath, feed)
    expect(hooked[residual]?.dims).toEqual([1, 3, 16])
    expect(Array.from(hooked.logits?.data as Uint16Array)).toEqual(
      Array.from(original.logits?.data as Uint16Array),
    )
    expect(sha256(join(directory, 'model.onnx.data'))).toBe(dataHash)
  })
})
