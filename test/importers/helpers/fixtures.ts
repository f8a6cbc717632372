import { existsSync, readFileSync } from 'node:fs'
import { sharedFixture } from '../../helpers/shared-fixtures.ts'

/** The stories260K GGUF (ggml-org conversion of Karpathy's stories260K, F32). */
export const storiesGgufPath = sharedFixture('stories260K-gguf/stories260K.gguf')
/** Goldens computed from the same weights with a run.c re-implementation. */
export const storiesGoldenPath = sharedFixture('stories260K/GOLDEN.json')

/** One greedy generation case of GOLDEN.json. */
export interface GoldenCase {
  prompt: string
  prompt_tokens: number[]
  tokens: number[]
  text: string
  /** Present for some cases only. */
  logits_per_position?: number[][]
  argmax_per_position?: number[]
}

/** GOLDEN.json's contents. */
export interface StoriesGolden {
  cases: GoldenCase[]
  encode_examples: Record<string, number[]>
}

/** Fails with a message naming the path when a fixture is missing. */
export function requireFixture(path: string): string {
  if (!existsSync(path)) throw new Error(`missing test fixture: ${path}`)
  return path
}

/** Reads GOLDEN.json (failing with its path when it is missing). */
export function readStoriesGolden(): StoriesGolden {
  return JSON.parse(readFileSync(requireFixture(storiesGoldenPath), 'utf8')) as StoriesGolden
}
