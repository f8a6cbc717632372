import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { TillerError } from '../../errors.ts'
import { modelFiles } from '../graph-contract.ts'

/**
 * Where a model folder keeps its decoder graph: `onnx/model.onnx` (Transformers.js layout) or `model.onnx` at the
 * root (onnxruntime-genai folders). Compiled graphs go into the same directory, next to the external data.
 */
export function resolveGraphPath(folder: string, graphFile?: string): string {
  const candidates = graphFile === undefined ? [modelFiles.graph, 'model.onnx'] : [graphFile]
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
