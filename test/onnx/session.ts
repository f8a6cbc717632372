import * as ort from 'onnxruntime-node'
import { encodeModel, type ModelProto } from '../../src/main/core/onnx/proto.ts'

/** Run a model whose initializers are all embedded, from its encoded bytes. */
export async function runModel(
  model: ModelProto,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model))
  try {
    return await session.run(feeds)
  } finally {
    await session.release()
  }
}

/** Run a model file by path (ORT resolves external data relative to it). */
export async function runModelFile(
  path: string,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(path)
  try {
    return await session.run(feeds)
  } finally {
    await session.release()
  }
}

/** The float32 data of an output tensor; fails the caller's expectation clearly when absent. */
export function floatData(outputs: Record<string, ort.Tensor>, name: string): Float32Array {
  const tensor = outputs[name]
  if (tensor === undefined) throw new Error(`output ${name} missing`)
  return tensor.data as Float32Array
}
