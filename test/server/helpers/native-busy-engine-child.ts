/**
 * An engine child process for engine-native-call.test.ts: the fake runtime, except that generating a prompt
 * containing "native" keeps ONNX Runtime busy in asynchronous native calls (session.run of a chain of large
 * MatMuls, one after another, so a native call is always in flight) and stops answering heartbeats meanwhile, as
 * an engine starved by long ONNX Runtime work on a loaded machine does. Before each run it writes
 * `<its process id> <runs started>` to the `markerFile` setting (atomically), so the test knows a native call was in
 * flight.
 */
import { renameSync, writeFileSync } from 'node:fs'
import * as ort from 'onnxruntime-node'
import { createEngine } from '../../../src/main/core/engine.ts'
import { GraphBuilder } from '../../../src/main/core/onnx/builder.ts'
import { encodeModel } from '../../../src/main/core/onnx/proto.ts'
import { engineChildSettings, serveEngineInChild } from '../../../src/main/server/child-channel.ts'
import { createFakeRuntime } from '../../contract/fake-runtime.ts'

const { markerFile } = engineChildSettings() as { markerFile: string }
const size = 1024
const chainLength = 8

/** first `[size, size]` times `second` `[size, size]`, `chainLength` times over: seconds of native work. */
function matMulChain(): Uint8Array {
  const builder = new GraphBuilder({ name: 'busy', opsets: { '': 17 } })
  builder.input('first', 'float32', [size, size])
  builder.input('second', 'float32', [size, size])
  let product = 'first'
  for (let step = 0; step < chainLength; step++) {
    product = builder.node1({ op: 'MatMul', name: `product${step}`, inputs: [product, 'second'] })
  }
  builder.node({ op: 'Identity', name: 'result', inputs: [product], outputs: ['result'] })
  builder.output('result', 'float32', [size, size])
  return encodeModel(builder.toModel())
}

function randomMatrix(): ort.Tensor {
  // Entries of size 1/√size keep the chain's products of order one.
  const values = Float32Array.from({ length: size * size }, () => (Math.random() * 2 - 1) / Math.sqrt(size))
  return new ort.Tensor('float32', values, [size, size])
}

let busy = false
// Heartbeat answers are dropped while busy; contract traffic still goes out.
const send = process.send?.bind(process)
if (send === undefined)
  throw new Error('native-busy-engine-child.ts runs inside a forked child process only.')
process.send = ((message: { channel?: string }, ...rest: unknown[]) =>
  busy && message.channel === 'heartbeat'
    ? true
    : (send as (...all: unknown[]) => boolean)(message, ...rest)) as typeof process.send

async function stayBusyInNativeCalls(): Promise<never> {
  const session = await ort.InferenceSession.create(matMulChain(), { intraOpNumThreads: 1 })
  const feeds = { first: randomMatrix(), second: randomMatrix() }
  busy = true
  for (let started = 1; ; started++) {
    // Written aside and renamed into place: a kill between truncating and writing the marker would leave it empty.
    writeFileSync(`${markerFile}.next`, `${process.pid} ${started}`)
    renameSync(`${markerFile}.next`, markerFile)
    await session.run(feeds)
  }
}

const { runtime } = createFakeRuntime()
const generate = runtime.generate.bind(runtime)
runtime.generate = async (model, request) => {
  if (request.prompt.includes('native')) return stayBusyInNativeCalls()
  return generate(model, request)
}
serveEngineInChild(createEngine({ runtime }))
