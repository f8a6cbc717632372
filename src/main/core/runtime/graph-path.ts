/**
 * Where a model folder keeps its decoder graph, in the one search order the runtime, the hook-site locator and the
 * compiler share: the file config.json's Transformers.js dtype names, `onnx/model.onnx`, `onnx/model_fp16.onnx`, the
 * genai decoder file, `model.onnx`.
 */
import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { TillerError } from '../errors.ts'
import { modelFiles } from '../models/graph-contract.ts'
import { genaiDecoderFile, type ModelConfig } from './model-config.ts'

/** Transformers.js dtype names and the suffix of the graph file each loads (RUNTIME-NOTES §1.3). */
const dtypeSuffixes: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
}

/** The graph config.json's `transformers.js_config.dtype` selects, e.g. onnx/model_fp16.onnx for fp16. */
function transformersGraphFile(config: ModelConfig): string | undefined {
  const section = config.raw['transformers.js_config']
  if (typeof section !== 'object' || section === null) return undefined
  const dtype = (section as Record<string, unknown>)['dtype']
  const suffix = typeof dtype === 'string' ? dtypeSuffixes[dtype] : undefined
  return suffix === undefined ? undefined : `onnx/model${suffix}.onnx`
}

/**
 * The files a folder's decoder graph may be, relative to the folder, most preferred first. Without a configuration
 * (`config` undefined) only the fixed names remain.
 */
export function decoderGraphCandidates(config: ModelConfig | undefined): string[] {
  const preferred = config === undefined ? undefined : transformersGraphFile(config)
  const genai = config === undefined ? undefined : genaiDecoderFile(config)
  return [
    ...new Set([
      ...(preferred === undefined ? [] : [preferred]),
      modelFiles.graph,
      modelFiles.graphFloat16,
      ...(genai === undefined ? [] : [genai]),
      'model.onnx',
    ]),
  ]
}

/**
 * The decoder graph's path: `graphFile` when given (relative to `folder`, or absolute), else the first of
 * `decoderGraphCandidates(config)` that exists. Throws `file-not-found` for a missing `graphFile` and
 * `invalid-model-folder`, listing where it looked, when the folder has no graph.
 */
export function resolveDecoderGraph(
  folder: string,
  config: ModelConfig | undefined,
  graphFile?: string,
): string {
  if (graphFile !== undefined) {
    const path = isAbsolute(graphFile) ? graphFile : join(folder, graphFile)
    if (!existsSync(path)) {
      throw new TillerError(
        'file-not-found',
        `Graph file ${path} does not exist; compile or export it first.`,
        {
          subject: path,
        },
      )
    }
    return path
  }
  const candidates = decoderGraphCandidates(config)
  for (const candidate of candidates) {
    const path = join(folder, candidate)
    if (existsSync(path)) return path
  }
  throw new TillerError(
    'invalid-model-folder',
    `${folder} has no decoder graph (looked for ${candidates.join(', ')}); export or import the model into this folder.`,
    { subject: join(folder, modelFiles.graph) },
  )
}
