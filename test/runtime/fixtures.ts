import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The shared fixtures folder (../shared/fixtures from the repository root). */
export const fixturesRoot = resolve(
  fileURLToPath(new URL('.', import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
)

/** The onnxruntime-genai builder export: fp16, MultiHeadAttention, position_ids, real Llama-2 tokenizer. */
export const genaiFixture = join(fixturesRoot, 'ortgenai-tiny-llama-fp16')

/** Return `path`, or fail with a message naming it when the fixture is missing. */
export function requireFixture(path: string): string {
  if (!existsSync(path))
    throw new Error(`Test fixture ${path} is missing; restore it from ../shared/fixtures.`)
  return path
}

/**
 * A temporary copy of a model folder without the files in `omit`; `cleanup()` removes it. Tests use it to make
 * broken or extended folders. (Copies, not links: ONNX Runtime refuses external data that resolves outside the
 * graph's folder.)
 */
export function copiedFolder(source: string, omit: string[] = []): { folder: string; cleanup(): void } {
  const folder = mkdtempSync(join(tmpdir(), 'tiller-runtime-'))
  for (const name of readdirSync(source)) {
    if (!omit.includes(name)) copyFileSync(join(source, name), join(folder, name))
  }
  return { folder, cleanup: () => rmSync(folder, { recursive: true, force: true }) }
}
