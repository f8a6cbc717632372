/**
 * Model folders the benchmarks run on: stories260K imported from ../shared/fixtures, and random Llamas with the
 * byte tokenizer built by the exporter, each in a scratch folder removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { byteTokenizerFiles, byteTokenizerSpecialIds } from '../../../src/main/core/models/byte-tokenizer.ts'
import type { LlamaConfig } from '../../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../../src/main/core/models/exporter/index.ts'
import type { GraphFamily } from '../../../src/main/core/models/graph-contract.ts'
import { importGguf } from '../../../src/main/core/models/importers/gguf/import-gguf.ts'
import { randomCheckpoint } from '../../../src/main/core/models/random-checkpoint.ts'

/** The stories260K GGUF fixture in the shared folder beside the repository. */
export const storiesGguf = resolve(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
  'stories260K-gguf',
  'stories260K.gguf',
)

/** The shape of a random benchmark Llama; heads are 64 wide, the head tied to the embeddings. */
export interface RandomLlamaShape {
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  maxPositionEmbeddings: number
}

/** A LlamaConfig of `shape` with the byte tokenizer's special ids. */
export function randomLlamaConfig(shape: RandomLlamaShape): LlamaConfig {
  const numHeads = shape.hiddenSize / 64
  return {
    ...shape,
    numHeads,
    numKeyValueHeads: numHeads,
    headDim: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    bosTokenId: byteTokenizerSpecialIds.bos,
    eosTokenId: byteTokenizerSpecialIds.eos,
    padTokenId: byteTokenizerSpecialIds.pad,
  }
}

/** Export stories260K (imported from its GGUF) as a `family` folder at `folder`. */
export async function exportStories(folder: string, family: GraphFamily): Promise<void> {
  const imported = await importGguf(storiesGguf)
  await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, { family })
}

/** Export a random Llama of `config` (weight seed 7) with the byte tokenizer as a builder-family folder. */
export async function exportRandomLlama(folder: string, config: LlamaConfig): Promise<void> {
  await exportModelFolder(randomCheckpoint(config, 7), byteTokenizerFiles(config.vocabSize), folder, {
    family: 'builder',
  })
}

/** Run `use` with a fresh scratch folder named after `prefix`, removed afterwards whatever happens. */
export async function withScratchFolder(
  prefix: string,
  use: (scratch: string) => Promise<void>,
): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), prefix))
  try {
    await use(scratch)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
