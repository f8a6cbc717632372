import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { byteTokenizerFiles, byteTokenizerSpecialIds } from '../../src/main/core/models/byte-tokenizer.ts'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder, type ExportDType } from '../../src/main/core/models/exporter/index.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'

/**
 * Tiny random Llama model folders built on the fly by the exporter, for tests. The default config is a small
 * GQA model shaped like stories260K (head dim 8, heads 4 / kv heads 2) with the byte tokenizer's special ids.
 */

export const tinyConfig: LlamaConfig = {
  vocabSize: 320,
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  maxPositionEmbeddings: 128,
  tieWordEmbeddings: true,
  bosTokenId: byteTokenizerSpecialIds.bos,
  eosTokenId: byteTokenizerSpecialIds.eos,
  padTokenId: byteTokenizerSpecialIds.pad,
}

export interface TinyModelOptions {
  family: GraphFamily
  dtype?: ExportDType
  attention?: 'auto' | 'gqa' | 'mha' | 'onnx'
  /** Overrides of `tinyConfig` (vocabSize must stay ≥ 262 for the byte tokenizer). */
  config?: Partial<LlamaConfig>
  /** Weight seed (default 1). */
  seed?: number
  /** Tie the head to the embeddings (overrides config.tieWordEmbeddings). */
  tie?: boolean
}

/** The checkpoint `buildTinyModel(options)` exports: same options, same weights. */
export function tinyCheckpoint(options: Omit<TinyModelOptions, 'family'>): LlamaCheckpoint {
  const config: LlamaConfig = { ...tinyConfig, ...options.config }
  if (options.tie !== undefined) config.tieWordEmbeddings = options.tie
  return randomCheckpoint(config, options.seed ?? 1)
}

/**
 * Export a tiny random model and return the folder's path: `<fresh temp dir>/tiny-<family>`. The parent is created
 * for this call alone, so callers clean up with `rmSync(dirname(folder), { recursive: true })`.
 */
export async function buildTinyModel(options: TinyModelOptions): Promise<string> {
  const checkpoint = tinyCheckpoint(options)
  const folder = join(mkdtempSync(join(tmpdir(), 'tiller-tiny-')), `tiny-${options.family}`)
  await exportModelFolder(checkpoint, byteTokenizerFiles(checkpoint.config.vocabSize), folder, {
    family: options.family,
    dtype: options.dtype,
    attention: options.attention,
  })
  return folder
}
