/**
 * Where a model folder keeps its decoder graph, in the one search order the runtime, the hook-site locator and the
 * compiler share: the Transformers.js variant config.json's dtype names, else the default variant
 * (src/shared/model-variants.ts: float32, else the smallest lossless graph, else the most faithful quantized one),
 * else the genai decoder file, else `model.onnx`.
 */
import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { chooseDefaultVariant, variantKinds, variantNames } from '../../../shared/model-variants.ts'
import { TillerError } from '../errors.ts'
import { modelFiles } from '../models/graph-contract.ts'
import { listModelVariants, variantGraphFile } from '../models/variants.ts'
import { genaiDecoderFile, type ModelConfig } from './model-config.ts'

/** config.json's `transformers.js_config.dtype`, e.g. `fp16`. */
function declaredDtype(config: ModelConfig | undefined): string | undefined {
  const section = config?.raw['transformers.js_config']
  if (typeof section !== 'object' || section === null) return undefined
  const dtype = (section as Record<string, unknown>)['dtype']
  return typeof dtype === 'string' ? dtype : undefined
}

/**
 * The file names a folder's decoder graph may have, relative to the folder, most preferred first when sizes are
 * equal (what error messages list). Without a configuration (`config` undefined) only the fixed names remain.
 */
export function decoderGraphCandidates(config: ModelConfig | undefined): string[] {
  const declared = declaredDtype(config)
  const declaredKind =
    declared === undefined ? undefined : variantKinds[declared as keyof typeof variantKinds]
  const genai = config === undefined ? undefined : genaiDecoderFile(config)
  return [
    ...new Set([
      ...(declaredKind === undefined ? [] : [`onnx/model${declaredKind.suffix}.onnx`]),
      ...variantNames.map((name) => `onnx/model${variantKinds[name].suffix}.onnx`),
      ...(genai === undefined ? [] : [genai]),
      'model.onnx',
    ]),
  ]
}

/**
 * The decoder graph's path: `graphFile` when given (relative to `folder`, or absolute), else the graph of
 * `variant` (a Transformers.js dtype name such as `q4`), else the folder's default variant, else the genai decoder
 * file or `model.onnx`. Throws `file-not-found` for a missing `graphFile`, `invalid-argument` for a variant the
 * folder lacks, and `invalid-model-folder`, listing where it looked, when the folder has no graph.
 */
export function resolveDecoderGraph(
  folder: string,
  config: ModelConfig | undefined,
  graphFile?: string,
  variant?: string,
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
  if (variant !== undefined) return join(folder, variantGraphFile(folder, variant))
  const variants = listModelVariants(folder)
  const chosen = chooseDefaultVariant(variants, declaredDtype(config))
  const chosenFile = variants.find((candidate) => candidate.name === chosen?.name)?.graphFile
  if (chosenFile !== undefined) return join(folder, chosenFile)
  const genai = config === undefined ? undefined : genaiDecoderFile(config)
  for (const candidate of [...(genai === undefined ? [] : [genai]), 'model.onnx']) {
    const path = join(folder, candidate)
    if (existsSync(path)) return path
  }
  throw new TillerError(
    'invalid-model-folder',
    `${folder} has no decoder graph (looked for ${decoderGraphCandidates(config).join(', ')}); export or ` +
      'import the model into this folder.',
    { subject: join(folder, modelFiles.graph) },
  )
}
