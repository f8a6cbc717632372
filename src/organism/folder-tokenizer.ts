import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TillerError } from '../main/core/errors.ts'
import { createWordTokenizer, type WordTokenizer } from './tokenizer.ts'

/** The word tokenizer of an exported organism folder, rebuilt from its `tokenizer.json` vocabulary. */
export async function readFolderTokenizer(folder: string): Promise<WordTokenizer> {
  const path = join(folder, 'tokenizer.json')
  const parsed = JSON.parse(await readFile(path, 'utf8')) as { model?: { vocab?: Record<string, number> } }
  const vocab = parsed.model?.vocab
  if (vocab === undefined) {
    throw new TillerError(
      'missing-tokenizer',
      `${path} has no model.vocab; it is not an organism tokenizer.`,
      { subject: path },
    )
  }
  const vocabulary: string[] = []
  for (const [word, id] of Object.entries(vocab)) vocabulary[id] = word
  if (vocabulary.some((word) => word === undefined) || vocabulary.length !== Object.keys(vocab).length) {
    throw new TillerError(
      'file-corrupt',
      `${path}: model.vocab ids are not 0..${vocabulary.length - 1} without gaps.`,
      { subject: path },
    )
  }
  return createWordTokenizer(vocabulary)
}
