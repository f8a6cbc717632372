import { TillerError } from '../../../errors.ts'
import type { LlamaConfig } from '../../checkpoint.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataFloat, metadataInteger, shortestFloat32 } from './metadata-fields.ts'

/**
 * The Gemma 2 / Gemma 3 features of a GGUF's config, read the way llama.cpp's loader reads them
 * (llama-model.cpp load_hparams and the gemma2/gemma3 graphs):
 *   - embeddings scaled by sqrt(hidden), GELU (tanh) gated MLP, four norms per layer: always;
 *   - sliding window `<arch>.attention.sliding_window` on every layer but each pattern-th
 *     (`<arch>.attention.sliding_window_pattern`, else 2 for gemma2 and 6 for gemma3, as llama.cpp sets them);
 *   - attention and final logit soft-capping (gemma2 only: `gemma2.attn_logit_softcapping`, default 50, and
 *     `gemma2.final_logit_softcapping`, default 30, llama.cpp's defaults);
 *   - query scaling: GGUF has no query_pre_attn_scalar; llama.cpp uses hidden / heads for the 27B models (46
 *     layers for gemma2, 62 for gemma3, whose Hugging Face configs set 144 and 168) and the head size otherwise;
 *   - gemma3's sliding layers use RoPE base `gemma3.rope.freq_base_swa` (default 10000) without scaling; the
 *     global layers use `gemma3.rope.freq_base` with the file's linear scaling.
 */

type GemmaFeatures = Pick<
  LlamaConfig,
  | 'slidingWindowPattern'
  | 'localRopeTheta'
  | 'scaledEmbedding'
  | 'hiddenActivation'
  | 'sandwichNorms'
  | 'queryPreAttentionScalar'
  | 'attentionLogitSoftcap'
  | 'finalLogitSoftcap'
>

/** Layer counts of the 27B models, whose queries llama.cpp scales by hidden / heads. */
const largeModelLayers: Readonly<Record<string, number>> = { gemma2: 46, gemma3: 62 }

const defaultPatterns: Readonly<Record<string, number>> = { gemma2: 2, gemma3: 6 }

function invalid(file: GgufFile, field: string, detail: string): TillerError {
  return new TillerError('unsupported-architecture', `${file.path}: ${field} ${detail}`, {
    subject: `${file.path}: ${field}`,
  })
}

/** A positive finite float field, or `fallback` when absent; refuses anything else naming the field. */
function positiveFloat(file: GgufFile, field: string, fallback: number): number {
  const value = metadataFloat(file, field, fallback)
  if (!(value > 0) || !Number.isFinite(value)) {
    throw invalid(file, field, `= ${value}; Tiller needs a positive finite value. Convert the model again.`)
  }
  return shortestFloat32(value)
}

/** Whether `prefix` (general.architecture) is a Gemma architecture this file configures. */
export function isGemmaArchitecture(prefix: string): boolean {
  return prefix in defaultPatterns
}

/** The Gemma features of a gemma2/gemma3 file (empty for other architectures). */
export function gemmaFeatures(
  file: GgufFile,
  prefix: string,
  sizes: { numLayers: number; hiddenSize: number; numHeads: number; headDim: number },
): GemmaFeatures {
  const defaultPattern = defaultPatterns[prefix]
  if (defaultPattern === undefined) return {}
  const patternField = `${prefix}.attention.sliding_window_pattern`
  const pattern = metadataInteger(file, patternField, defaultPattern)
  // A pattern beyond the layer count is allowed: every layer then slides.
  if (pattern < 1) {
    throw invalid(
      file,
      patternField,
      `= ${pattern}; Tiller needs at least 1 (every pattern-th layer attends globally).`,
    )
  }
  const queryPreAttentionScalar =
    sizes.numLayers === largeModelLayers[prefix] ? sizes.hiddenSize / sizes.numHeads : sizes.headDim
  const features: GemmaFeatures = {
    slidingWindowPattern: pattern,
    scaledEmbedding: true,
    hiddenActivation: 'gelu_tanh',
    sandwichNorms: true,
    queryPreAttentionScalar,
  }
  if (prefix === 'gemma2') {
    features.attentionLogitSoftcap = positiveFloat(file, `${prefix}.attn_logit_softcapping`, 50)
    features.finalLogitSoftcap = positiveFloat(file, `${prefix}.final_logit_softcapping`, 30)
  } else {
    features.localRopeTheta = positiveFloat(file, `${prefix}.rope.freq_base_swa`, 10000)
  }
  return features
}
