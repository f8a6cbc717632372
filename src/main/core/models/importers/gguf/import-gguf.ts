import { basename } from 'node:path'

import type { LlamaCheckpoint, TokenizerFiles, WeightTensor } from '../../checkpoint.ts'
import type { StreamedCheckpoint } from '../../weight-source.ts'
import { ggmlTypeName } from '../../../gguf/ggml-types.ts'
import { blockDequantizer } from './dequantize.ts'
import { readGgufFile } from './gguf-file.ts'
import { assertSupportedLlamaGguf, llamaConfigFromGguf } from './llama-config.ts'
import { openLlamaWeights } from './llama-weights.ts'
import { metadataString } from './metadata-fields.ts'
import { embeddedTokenizerFromGguf } from './embedded-tokenizer.ts'
import { endOfTurnTokenIdsFromGguf } from './end-of-turn.ts'
import { withExactStringArrays } from './exact-strings.ts'
import type { EmbeddedTokenizer } from './embedded-tokenizer.ts'
import { renderTemplateText } from '../../chat-template.ts'

/** What the imported file was, for reports and provenance. */
export interface GgufSourceSummary {
  path: string
  fileName: string
  fileSize: number
  /** GGUF container version (2 or 3). */
  version: number
  architecture: string
  /** `general.name`, when the file has one. */
  name: string | undefined
  tensorCount: number
  /** How many tensors of each GGML type the file holds, e.g. { F32: 11, Q8_0: 38 }. */
  tensorTypes: Record<string, number>
  /** True when any weight was dequantized from a block-quantized type (Q4_K, Q8_0, ...). */
  dequantized: boolean
  /** The block-quantized types that were dequantized to float32, by name in GGML type order (["Q4_K", "Q6_K"]). */
  dequantizedTypes: string[]
  /** Why the classifier is or is not tied to the embedding. */
  classifier:
    'tied: output.weight absent' | 'tied: output.weight equals token_embd.weight' | 'separate output.weight'
  tokenizerModel: string
  hasChatTemplate: boolean
}

/** The result of importing a GGUF model: an exporter-ready checkpoint, its tokenizer files and a summary. */
export interface GgufImport {
  checkpoint: LlamaCheckpoint
  tokenizer: TokenizerFiles
  source: GgufSourceSummary
}

function countTypes(types: Iterable<number>): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const type of types) counts[ggmlTypeName(type)] = (counts[ggmlTypeName(type)] ?? 0) + 1
  return counts
}

/** A short conversation every chat template must render: user, assistant, user, then the generation prompt. */
const sampleConversation = [
  { role: 'user', content: 'Hello.' },
  { role: 'assistant', content: 'Hi.' },
  { role: 'user', content: 'How are you?' },
]

/**
 * Render the GGUF's chat template once, under the same limits as every later render, so a template that does not
 * parse, raises, or runs away is refused at import with the GGUF named rather than when the model is first used.
 */
function checkChatTemplate(path: string, tokenizer: EmbeddedTokenizer): void {
  if (tokenizer.chatTemplate === undefined) return
  renderTemplateText(tokenizer.chatTemplate, `${path} (tokenizer.chat_template)`, {
    messages: sampleConversation,
    add_generation_prompt: true,
    tools: null,
    documents: null,
    bos_token: tokenizer.bosToken,
    eos_token: tokenizer.eosToken,
  })
}

/** A GGUF opened for a streamed import: the checkpoint's weights stay in the file until the exporter reads them. */
export interface OpenedGgufImport {
  /** Close `checkpoint.weights` when the export is done (or failed). */
  checkpoint: StreamedCheckpoint
  tokenizer: TokenizerFiles
  source: GgufSourceSummary
}

/**
 * Opens a local GGUF of a supported architecture (llama incl. Llama 3.x and Mistral, qwen2, qwen3, phi3;
 * gguf-architectures.ts) (v2/v3; F32, F16, BF16 and the block types of ggml-types.ts: Q4_0..Q8_0,
 * Q2_K..Q6_K, IQ4_NL, IQ4_XS, dequantized to float32) as a streamed checkpoint with Hugging Face names, `[out, in]`
 * layouts and rotate_half q/k rows and the chat model's end-of-turn ids (end-of-turn.ts), plus Hugging Face
 * tokenizer files converted from the embedded SentencePiece or byte-level BPE vocabulary. Header, tokenizer, chat
 * template and tensor directory are checked here; each weight is read when the exporter asks for it (a damaged
 * tensor is refused then). Bad input throws a TillerError naming the file and field or tensor.
 */
export async function openGgufImport(path: string): Promise<OpenedGgufImport> {
  const file = await withExactStringArrays(await readGgufFile(path), [
    'tokenizer.ggml.tokens',
    'tokenizer.ggml.merges',
  ])
  assertSupportedLlamaGguf(file)
  const tokenizer = embeddedTokenizerFromGguf(file)
  checkChatTemplate(path, tokenizer)
  const partialConfig = llamaConfigFromGguf(file, tokenizer.tokenCount)
  const endOfTurnTokenIds = endOfTurnTokenIdsFromGguf(file, partialConfig.eosTokenId)
  const { weights, tieWordEmbeddings, ropeFrequencyFactors } = await openLlamaWeights(file, partialConfig)
  const types = [...file.tensors.values()].map((tensor) => tensor.type)
  const tensorTypes = countTypes(types)
  const dequantizedTypes = [...new Set(types)]
    .filter((type) => blockDequantizer(type) !== undefined)
    .sort((first, second) => first - second)
    .map(ggmlTypeName)
  return {
    checkpoint: {
      config: {
        ...partialConfig,
        tieWordEmbeddings,
        ...(endOfTurnTokenIds.length === 0 ? {} : { endOfTurnTokenIds }),
        // Llama 3.1/3.2: llama.cpp stores the llama3 remapping as one divisor per frequency.
        ...(ropeFrequencyFactors === undefined
          ? {}
          : { ropeScaling: { type: 'frequency-factors', factors: ropeFrequencyFactors } }),
      },
      weights,
    },
    tokenizer: tokenizer.files,
    source: {
      path,
      fileName: basename(path),
      fileSize: file.fileSize,
      version: file.version,
      architecture: metadataString(file, 'general.architecture') ?? 'llama',
      name: metadataString(file, 'general.name'),
      tensorCount: file.tensors.size,
      tensorTypes,
      dequantized: dequantizedTypes.length > 0,
      dequantizedTypes,
      classifier: !file.tensors.has('output.weight')
        ? 'tied: output.weight absent'
        : tieWordEmbeddings
          ? 'tied: output.weight equals token_embd.weight'
          : 'separate output.weight',
      tokenizerModel: tokenizer.description,
      hasChatTemplate: tokenizer.chatTemplate !== undefined,
    },
  }
}

/**
 * Imports a local GGUF (openGgufImport) into an in-memory LlamaCheckpoint: every weight read, in file order. For
 * callers that need the weights at hand; the CLI and the studio export from openGgufImport, one weight at a time.
 */
export async function importGguf(path: string): Promise<GgufImport> {
  const opened = await openGgufImport(path)
  const weights = new Map<string, WeightTensor>()
  try {
    for (const name of opened.checkpoint.weights.entries.keys()) {
      weights.set(name, await opened.checkpoint.weights.load(name))
    }
  } finally {
    await opened.checkpoint.weights.close()
  }
  return { ...opened, checkpoint: { config: opened.checkpoint.config, weights } }
}
