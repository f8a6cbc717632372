/**
 * Versions of the libraries the runtime is built on, as `tiller doctor` and the status screen show them.
 */
import * as ort from 'onnxruntime-node'

/** ONNX Runtime (the Node binding) and Transformers.js versions. */
export async function runtimeVersions(): Promise<{ onnxRuntime: string; transformers: string }> {
  // Transformers.js is large to import; load it only when its version is asked for.
  const { env } = await import('@huggingface/transformers')
  return { onnxRuntime: ort.env.versions.node ?? ort.env.versions.common, transformers: env.version }
}
