/**
 * The graph variants of a Transformers.js model folder (`onnx/model.onnx`, `onnx/model_q4.onnx`, …): their names,
 * file names and which one loads by default. Pure data and rules, shared by the engine, the CLI and the Models
 * screen; reading the files is the engine's (src/main/core/models/variants.ts).
 */

/** Transformers.js dtype names, each one graph file `model<suffix>.onnx` (RUNTIME-NOTES §1.3). */
export const variantNames = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const

export type VariantName = (typeof variantNames)[number]

/** What each variant's graph holds: its file-name suffix, whether its weights are the float originals, and how. */
export const variantKinds: Record<VariantName, { suffix: string; lossless: boolean; description: string }> = {
  fp32: { suffix: '', lossless: true, description: 'float32' },
  fp16: { suffix: '_fp16', lossless: true, description: 'float16 weights and activations' },
  q8: { suffix: '_quantized', lossless: false, description: '8-bit weights (MatMulInteger)' },
  int8: { suffix: '_int8', lossless: false, description: 'signed 8-bit weights' },
  uint8: { suffix: '_uint8', lossless: false, description: 'unsigned 8-bit weights' },
  q4: { suffix: '_q4', lossless: false, description: '4-bit weights (MatMulNBits), float32 activations' },
  q4f16: { suffix: '_q4f16', lossless: false, description: '4-bit weights, float16 activations' },
  bnb4: { suffix: '_bnb4', lossless: false, description: '4-bit bitsandbytes weights (MatMulBnb4)' },
}

/** One variant a folder has on disk. */
export interface ModelVariant {
  name: VariantName
  /** The graph, relative to the folder (`onnx/model_q4.onnx`). */
  graphFile: string
  /** Its external data files (`onnx/model_q4.onnx_data`, `…_data_1`), relative to the folder. */
  dataFiles: string[]
  /** Bytes of the graph and its data files on disk. */
  sizeBytes: number
  lossless: boolean
  description: string
}

/** The variant a folder loads when none is asked for, and why. */
export interface DefaultVariant {
  name: VariantName
  reason: string
}

/** The variant name `value` stands for; `float32`, `float16` and `quantized` are accepted as aliases. */
export function parseVariantName(value: string): VariantName | undefined {
  const aliases: Record<string, VariantName> = { float32: 'fp32', float16: 'fp16', quantized: 'q8' }
  const normalized = value.trim().toLowerCase()
  const name = aliases[normalized] ?? normalized
  return (variantNames as readonly string[]).includes(name) ? (name as VariantName) : undefined
}

/** Quantized variants, most faithful first: 8-bit before 4-bit, float32 activations before float16. */
const quantizedPreference: VariantName[] = ['q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']

/**
 * The default among `variants`: the one config.json's `transformers.js_config.dtype` names (`declared`), else the
 * float32 graph, else the smallest lossless graph, else the most faithful quantized one. Undefined when the folder
 * has no variant.
 */
export function chooseDefaultVariant(
  variants: readonly ModelVariant[],
  declared: string | undefined,
): DefaultVariant | undefined {
  const byName = (name: VariantName) => variants.find((variant) => variant.name === name)
  const declaredName = declared === undefined ? undefined : parseVariantName(declared)
  if (declaredName !== undefined && byName(declaredName) !== undefined) {
    return { name: declaredName, reason: `config.json's transformers.js_config.dtype names ${declaredName}` }
  }
  if (byName('fp32') !== undefined) {
    return {
      name: 'fp32',
      reason: 'the float32 graph is the reference: no rounding of weights or activations',
    }
  }
  const lossless = variants.filter((variant) => variant.lossless)
  const smallest = [...lossless].sort((first, second) => first.sizeBytes - second.sizeBytes)[0]
  if (smallest !== undefined) {
    return { name: smallest.name, reason: 'no float32 graph; the smallest one with unquantized weights' }
  }
  const quantized = quantizedPreference.find((name) => byName(name) !== undefined)
  if (quantized === undefined) return undefined
  return { name: quantized, reason: 'only quantized graphs; the one with the most bits per weight' }
}
