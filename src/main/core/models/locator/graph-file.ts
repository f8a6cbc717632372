import { relative } from 'node:path'
import { resolveDecoderGraph } from '../../runtime/graph-path.ts'
import { readModelConfig, type ModelConfig } from '../../runtime/model-config.ts'

function configIfReadable(folder: string): ModelConfig | undefined {
  try {
    return readModelConfig(folder)
  } catch {
    return undefined
  }
}

/**
 * The decoder graph of a model folder, found exactly as the runtime finds it (`resolveDecoderGraph`): `graphFile`
 * (relative to the folder) when given, else the file config.json's Transformers.js dtype names, `onnx/model.onnx`,
 * `onnx/model_fp16.onnx`, the genai decoder file, `model.onnx`. A folder whose configuration cannot be read is
 * searched by the fixed names. Graphs derived from it go beside it or into the cache (graph-placement.ts).
 */
export function resolveGraphPath(folder: string, graphFile?: string): string {
  return resolveDecoderGraph(folder, configIfReadable(folder), graphFile)
}

/** The graph file's path relative to the model folder, with forward slashes (what `loadModel`'s graphFile takes). */
export function graphFileOf(folder: string, path: string): string {
  return relative(folder, path).split('\\').join('/')
}
