import type { ExportDType } from '../../exporter/index.ts'

/** Block types of 5 bits or fewer per weight: a q4 export is about their size. */
const fourBitTypes = new Set([
  'Q2_K',
  'Q3_K',
  'Q4_0',
  'Q4_1',
  'Q4_K',
  'Q5_0',
  'Q5_1',
  'Q5_K',
  'IQ4_NL',
  'IQ4_XS',
])

/** Block types of 6 to 8 bits per weight: a q8 export is about their size. */
const eightBitTypes = new Set(['Q6_K', 'Q8_0'])

/**
 * The export dtype that keeps a GGUF's model folder about the size of the file, from the GGUF's tensor types
 * by name and count (GgufSourceSummary.tensorTypes): q4 when any weight is 4- or 5-bit (Q4_K_M files mix Q4_K
 * with Q6_K), else q8 for Q8_0 / Q6_K, float16 for F16 / BF16, float32 for F32 files.
 */
export function defaultExportDtype(tensorTypes: Record<string, number>): ExportDType {
  const types = Object.keys(tensorTypes)
  if (types.some((type) => fourBitTypes.has(type))) return 'q4'
  if (types.some((type) => eightBitTypes.has(type))) return 'q8'
  if (types.includes('F16') || types.includes('BF16')) return 'float16'
  return 'float32'
}
