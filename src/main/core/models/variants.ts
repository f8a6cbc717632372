/**
 * The graph variants a model folder holds on disk (`onnx/model.onnx`, `onnx/model_fp16.onnx`, `onnx/model_q4.onnx`,
 * …, or the same names at the folder's root as Optimum writes them), with their external data files and sizes, and
 * the one that loads when none is asked for (src/shared/model-variants.ts has the names and the rule).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import {
  chooseDefaultVariant,
  parseVariantName,
  variantKinds,
  variantNames,
  type DefaultVariant,
  type ModelVariant,
  type VariantName,
} from '../../../shared/model-variants.ts'
import { TillerError } from '../errors.ts'

/** The graph of variant `name` relative to a folder, in the folders Transformers.js and Optimum use. */
function graphLocations(name: VariantName): string[] {
  const file = `model${variantKinds[name].suffix}.onnx`
  return [`onnx/${file}`, file]
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size
  } catch {
    // A broken link in the hub cache (blob not downloaded) counts as nothing.
    return 0
  }
}

/** The external data files of `graphFile`: `<graph>_data`, `<graph>_data_1`, …, or `<graph>.data`. */
export function externalDataFiles(folder: string, graphFile: string): string[] {
  const directory = dirname(graphFile)
  const graphName = graphFile.slice(directory === '.' ? 0 : directory.length + 1)
  let names: string[]
  try {
    names = readdirSync(join(folder, directory))
  } catch {
    return []
  }
  const chunk = new RegExp(`^${graphName.replace(/\./g, '\\.')}(_data(_\\d+)?|\\.data)$`)
  return names
    .filter((name) => chunk.test(name))
    .sort()
    .map((name) => (directory === '.' ? name : `${directory}/${name}`))
}

/** Every variant `folder` has, in the order of `variantNames` (float32 first). */
export function listModelVariants(folder: string): ModelVariant[] {
  const variants: ModelVariant[] = []
  for (const name of variantNames) {
    const graphFile = graphLocations(name).find((location) => existsSync(join(folder, location)))
    if (graphFile === undefined) continue
    const dataFiles = externalDataFiles(folder, graphFile)
    const sizeBytes = [graphFile, ...dataFiles].reduce((total, file) => total + sizeOf(join(folder, file)), 0)
    const { lossless, description } = variantKinds[name]
    variants.push({ name, graphFile, dataFiles, sizeBytes, lossless, description })
  }
  return variants
}

/** config.json's `transformers.js_config.dtype`, when the folder declares one. */
export function declaredDtype(folder: string): string | undefined {
  try {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>
    const section = config['transformers.js_config']
    if (typeof section !== 'object' || section === null) return undefined
    const dtype = (section as Record<string, unknown>)['dtype']
    return typeof dtype === 'string' ? dtype : undefined
  } catch {
    return undefined
  }
}

/** A folder's variants with the default among them (undefined when it has none, e.g. a genai builder folder). */
export function describeVariants(folder: string): {
  variants: ModelVariant[]
  chosen: DefaultVariant | undefined
} {
  const variants = listModelVariants(folder)
  return { variants, chosen: chooseDefaultVariant(variants, declaredDtype(folder)) }
}

/** Sizes in the CLI's notes: `12.3 MB`. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

/**
 * The graph file (relative to `folder`) of variant `requested` (a name or alias, e.g. `q4`, `float16`). An unknown
 * name or a variant the folder lacks is an `invalid-argument` error listing the variants it has.
 */
export function variantGraphFile(folder: string, requested: string): string {
  const variants = listModelVariants(folder)
  const available =
    variants.length === 0
      ? 'it has no Transformers.js graph variants'
      : `it has ${variants.map((variant) => `${variant.name} (${megabytes(variant.sizeBytes)})`).join(', ')}`
  const name = parseVariantName(requested)
  if (name === undefined) {
    throw new TillerError(
      'invalid-argument',
      `Variant "${requested}" is not one of ${variantNames.join(', ')}; ${folder}: ${available}.`,
      { subject: 'variant' },
    )
  }
  const variant = variants.find((candidate) => candidate.name === name)
  if (variant === undefined) {
    throw new TillerError(
      'invalid-argument',
      `${folder} has no ${name} variant (${graphLocations(name)[0]}); ${available}.`,
      { subject: 'variant' },
    )
  }
  return variant.graphFile
}
