/**
 * `--variant NAME`, which every command that loads a model takes: which Transformers.js graph of the folder to run
 * (`onnx/model_q4.onnx` for q4), and the note that says which one runs and why.
 */
import { variantNames } from '../../../shared/model-variants.ts'
import { describeVariants, megabytes, variantGraphFile } from '../../core/models/variants.ts'

/** The usage line of `--variant`, aligned at `column`. */
export function variantUsage(column: number): string {
  return `  ${'--variant NAME'.padEnd(column - 2)}graph variant: ${variantNames.join(', ')} (default: float32 if present)`
}

/** What `--variant` resolved to: the graph file (undefined = the folder's default) and a line for stderr. */
export interface VariantChoice {
  variant: string | undefined
  graphFile: string | undefined
  note: string | undefined
}

/**
 * Resolve `--variant` for `folder`: the variant's graph (an error listing what the folder has when it lacks it), or
 * with no flag a note naming the default and why, when the folder has more than one variant to choose from.
 */
export function variantChoice(folder: string, value: string | undefined): VariantChoice {
  const { variants, chosen } = describeVariants(folder)
  if (value !== undefined) {
    const graphFile = variantGraphFile(folder, value)
    const variant = variants.find((candidate) => candidate.graphFile === graphFile)
    const size = variant === undefined ? '' : `, ${megabytes(variant.sizeBytes)}`
    return { variant: value, graphFile, note: `variant ${variant?.name ?? value} (${graphFile}${size})` }
  }
  if (chosen === undefined || variants.length < 2)
    return { variant: undefined, graphFile: undefined, note: undefined }
  const chosenVariant = variants.find((candidate) => candidate.name === chosen.name)
  const others = variants.filter((candidate) => candidate.name !== chosen.name)
  return {
    variant: undefined,
    graphFile: undefined,
    note:
      `variant ${chosen.name} (${chosenVariant?.graphFile ?? ''}, ${megabytes(chosenVariant?.sizeBytes ?? 0)}): ` +
      `${chosen.reason}; also ${others.map((other) => `${other.name} (${megabytes(other.sizeBytes)})`).join(', ')} ` +
      '— choose with --variant',
  }
}
