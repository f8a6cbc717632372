/**
 * Which files of a Hugging Face repository one variant needs: the configuration and tokenizer files at its root,
 * the variant's graph (`onnx/model_q4.onnx`) and that graph's external data files (`onnx/model_q4.onnx_data`,
 * `…_data_1`). Pure: works on the repository's file list, so it is tested without a network.
 */
import {
  chooseDefaultVariant,
  parseVariantName,
  variantKinds,
  variantNames,
  type DefaultVariant,
  type ModelVariant,
  type VariantName,
} from '../../../../shared/model-variants.ts'
import { TillerError } from '../../errors.ts'

/** Files the runtime reads beside the graph, when the repository has them. */
export const metadataFiles = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
]

/** A file of the repository with its size in bytes. */
export interface RepositoryFile {
  path: string
  size: number
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The variants the repository's file list holds (graphs under `onnx/` or at the root), with sizes. */
export function repositoryVariants(files: readonly RepositoryFile[]): ModelVariant[] {
  const variants: ModelVariant[] = []
  for (const name of variantNames) {
    const graphName = `model${variantKinds[name].suffix}.onnx`
    const graph =
      files.find((file) => file.path === `onnx/${graphName}`) ?? files.find((file) => file.path === graphName)
    if (graph === undefined) continue
    const directory = graph.path.includes('/') ? 'onnx/' : ''
    const data = new RegExp(`^${escaped(directory + graphName)}(_data(_\\d+)?|\\.data)$`)
    const dataFiles = files.filter((file) => data.test(file.path))
    variants.push({
      name,
      graphFile: graph.path,
      dataFiles: dataFiles.map((file) => file.path),
      sizeBytes: [graph, ...dataFiles].reduce((total, file) => total + file.size, 0),
      lossless: variantKinds[name].lossless,
      description: variantKinds[name].description,
    })
  }
  return variants
}

/** The variant to download and the files it needs. */
export interface PullSelection {
  variant: DefaultVariant
  files: RepositoryFile[]
  /** Bytes of `files`. */
  totalBytes: number
}

/**
 * The files of `repository` to download for `requested` (a variant name or alias; undefined = the default rule
 * of src/shared/model-variants.ts, with config.json's declared dtype `declared`). A repository without an ONNX
 * variant, or without the one asked for, is refused naming what it has.
 */
export function selectPullFiles(
  repository: string,
  files: readonly RepositoryFile[],
  requested: string | undefined,
  declared: string | undefined,
): PullSelection {
  const variants = repositoryVariants(files)
  const listed = variants.map((variant) => `${variant.name} (${(variant.sizeBytes / 1e6).toFixed(1)} MB)`)
  if (variants.length === 0) {
    throw new TillerError(
      'invalid-model-folder',
      `${repository} has no ONNX decoder graph (onnx/model*.onnx); pull a repository exported for Transformers.js ` +
        '(e.g. from onnx-community) or import a GGUF file.',
      { subject: repository },
    )
  }
  let variant: DefaultVariant | undefined
  if (requested === undefined) {
    variant = chooseDefaultVariant(variants, declared)
  } else {
    const name: VariantName | undefined = parseVariantName(requested)
    if (name === undefined) {
      throw new TillerError(
        'invalid-argument',
        `Variant "${requested}" is not one of ${variantNames.join(', ')}; ${repository} has ${listed.join(', ')}.`,
        { subject: 'variant' },
      )
    }
    if (variants.some((candidate) => candidate.name === name)) variant = { name, reason: 'asked for' }
    else {
      throw new TillerError(
        'invalid-argument',
        `${repository} has no ${name} variant; it has ${listed.join(', ')}.`,
        { subject: 'variant' },
      )
    }
  }
  const chosen = variants.find((candidate) => candidate.name === variant?.name)
  if (variant === undefined || chosen === undefined) {
    throw new TillerError('internal', `No variant chosen among ${listed.join(', ')}.`)
  }
  const wanted = new Set([...metadataFiles, chosen.graphFile, ...chosen.dataFiles])
  const selected = files.filter((file) => wanted.has(file.path))
  if (!selected.some((file) => file.path === 'config.json')) {
    throw new TillerError(
      'invalid-model-folder',
      `${repository} has no config.json; Tiller needs it to load the model.`,
      {
        subject: repository,
      },
    )
  }
  return { variant, files: selected, totalBytes: selected.reduce((total, file) => total + file.size, 0) }
}
