import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaCheckpoint, TokenizerFiles } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { modelFiles, type GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { argmaxRow } from '../helpers/reference-llama.ts'
import { BatchRunner } from './batch-runner.ts'

/**
 * The real trained model Tiller must run: stories260K (GGUF fixture, imported) exported in both families and
 * checked against GOLDEN.json (llama2.c run.c semantics): logits at every prompt position and the greedy text.
 */

const ggufPath = '../shared/fixtures/stories260K-gguf/stories260K.gguf'
const goldenPath = '../shared/fixtures/stories260K/GOLDEN.json'

interface GoldenCase {
  prompt: string
  prompt_tokens: number[]
  tokens: number[]
  /** absent for some cases */
  logits_per_position?: number[][]
}

function requireFixture(path: string): void {
  if (!existsSync(path))
    throw new Error(`missing fixture ${path} (the shared/ folder must sit beside the checkout)`)
}

const scratch = mkdtempSync(join(tmpdir(), 'tiller-stories-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

let checkpoint: LlamaCheckpoint
let tokenizer: TokenizerFiles
let cases: GoldenCase[]

beforeAll(async () => {
  requireFixture(ggufPath)
  requireFixture(goldenPath)
  const imported = await importGguf(ggufPath)
  checkpoint = imported.checkpoint
  tokenizer = imported.tokenizer
  cases = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { cases: GoldenCase[] }).cases
})

const families: GraphFamily[] = ['builder', 'optimum']

for (const family of families) {
  describe(`stories260K exported as ${family}`, () => {
    let session: ort.InferenceSession
    beforeAll(async () => {
      const folder = join(scratch, family)
      await exportModelFolder(checkpoint, tokenizer, folder, { family })
      session = await ort.InferenceSession.create(join(folder, modelFiles.graph))
    })
    afterAll(async () => {
      await session?.release()
    })

    it('reproduces the golden logits at every prompt position', async () => {
      const vocab = checkpoint.config.vocabSize
      const withLogits = cases.filter((golden) => golden.logits_per_position !== undefined)
      expect(withLogits.length).toBeGreaterThan(0)
      for (const golden of withLogits) {
        const logits = await new BatchRunner(session, checkpoint.config, 1).step([golden.prompt_tokens])
        golden.logits_per_position?.forEach((row, position) => {
          let largest = 0
          row.forEach(
            (value, token) =>
              (largest = Math.max(largest, Math.abs(value - (logits[position * vocab + token] ?? NaN)))),
          )
          expect(largest, `${golden.prompt} position ${position}`).toBeLessThan(1e-4)
        })
      }
    })

    it('generates the golden greedy text with the KV cache', async () => {
      const vocab = checkpoint.config.vocabSize
      for (const golden of cases) {
        const runner = new BatchRunner(session, checkpoint.config, 1)
        const tokens = [...golden.prompt_tokens]
        let logits = await runner.step([tokens])
        let last = tokens.length - 1
        while (tokens.length < golden.tokens.length) {
          const next = argmaxRow(logits, vocab, last)
          if (next === checkpoint.config.bosTokenId) break
          tokens.push(next)
          logits = await runner.step([[next]])
          last = 0
        }
        expect(tokens, golden.prompt).toEqual(golden.tokens)
      }
    })
  })
}
