import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { readFolderTokenizer } from '../../src/organism/folder-tokenizer.ts'
import { organismModelDirectory } from '../../src/organism/organism-paths.ts'
import type { WordTokenizer } from '../../src/organism/tokenizer.ts'

/** The committed organism opened from a scratch copy, and how to close it. */
export interface ScratchOrganism {
  folder: string
  model: LoadedModel
  tokenizer: WordTokenizer
  close(): Promise<void>
}

/**
 * Copy the committed organism into a fresh temporary folder and load it: steered graphs are compiled next to the
 * weights, and the copy keeps the committed folder clean.
 */
export async function openScratchOrganism(prefix: string): Promise<ScratchOrganism> {
  const folder = await mkdtemp(join(tmpdir(), prefix))
  await cp(organismModelDirectory, folder, { recursive: true })
  const model = await loadModel(folder, { provider: 'cpu' })
  const tokenizer = await readFolderTokenizer(folder)
  return {
    folder,
    model,
    tokenizer,
    close: async () => {
      await model.dispose()
      await rm(folder, { recursive: true, force: true })
    },
  }
}
