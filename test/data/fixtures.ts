/**
 * Shared test helpers for demonstration-set tests: the real Llama-2 tokenizer fixture and a template-less copy.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The fixture folder with the real Llama-2 tokenizer and its chat template. */
export const llamaFolder = join(import.meta.dirname, '../../../shared/fixtures/ortgenai-tiny-llama-fp16')

/** Fail loudly (naming the path) when a fixture is absent. */
export function requireFixture(path: string): string {
  if (!existsSync(path)) throw new Error(`missing test fixture: ${path}`)
  return path
}

/** A temporary folder holding the same tokenizer.json with a tokenizer_config.json that has no chat template. */
export function templatelessFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'tiller-plain-tokenizer-'))
  const source = requireFixture(llamaFolder)
  writeFileSync(join(folder, 'tokenizer.json'), readFileSync(join(source, 'tokenizer.json')))
  const config = JSON.parse(readFileSync(join(source, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >
  delete config.chat_template
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config))
  return folder
}
