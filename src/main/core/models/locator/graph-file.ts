import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { TillerError } from '../../errors.ts'
import { genaiDecoderFile, readModelConfig, type ModelConfig } from '../../runtime/model-config.ts'
import { modelFiles } from '../graph-contract.ts'

/** Transformers.js dtypes Tiller exports, and the graph file suffix each selects (RUNTIME-NOTES §1.3). */
const dtypeSuffixes: Record<string, string> = { fp32: '', fp16: '_fp16' }

function configuredCandidates(folder: string): string[] {
  let config: ModelConfig
  try {
    config = readModelConfig(folder)
  } catch {
    return []
  }
  const section = config.raw['transformers.js_config']
  const dtype =
    typeof section === 'object' && section !== null
      ? (section as Record<string, unknown>)['dtype']
      : undefined
  const suffix = typeof dtype === 'string' ? dtypeSuffixes[dtype] : undefined
  const genai = genaiDecoderFile(config)
  return [
    ...(suffix === undefined ? [] : [`onnx/model${suffix}.onnx`]),
    ...(genai === undefined ? [] : [genai]),
  ]
}

/**
 * Where a model folder keeps its decoder graph, in the order the runtime looks: the file config.json's
 * Transformers.js dtype names, `onnx/model.onnx`, `onnx/model_fp16.onnx`, the genai decoder file, `model.onnx`.
 * Compiled graphs go into the same directory, next to the external data.
 */
export function resolveGraphPath(folder: string, graphFile?: string): string {
  const candidates =
    graphFile === undefined
      ? [
          ...new Set([
            ...configuredCandidates(folder),
            modelFiles.graph,
            modelFiles.graphFloat16,
            'model.onnx',
          ]),
        ]
      : [graphFile]
  for (const candidate of candidates) {
    const path = join(folder, candidate)
    if (existsSync(path)) return path
  }
  throw new TillerError(
    'invalid-model-folder',
    `${folder} has no decoder graph (looked for ${candidates.join(', ')}). Import or export the model first.`,
    { subject: folder },
  )
}

/** The graph file's path relative to the model folder, with forward slashes (what `loadModel`'s graphFile takes). */
export function graphFileOf(folder: string, path: string): string {
  return relative(folder, path).split('\\').join('/')
}

/** sha256 of a file, hex. Graph files are small (weights live in external data), so reading them whole is fine. */
export async function fileHash(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex')
}
