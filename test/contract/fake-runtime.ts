import { readFileSync } from 'node:fs'
import type { EngineGenerationRequest, EngineModel, EngineRuntime } from '../../src/main/core/engine.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import { methodById } from '../../src/main/core/methods/index.ts'
import type { Edit, ModelFingerprint } from '../../src/shared/edit.ts'
import type { LoadedModelInfo, ProviderReport } from '../../src/shared/engine-status.ts'
import type { GenerationSummary } from '../../src/shared/generation.ts'

/**
 * A runtime stand-in for transport and engine tests: it "loads" any folder whose name does not contain
 * `missing`, and "generates" the prompt's characters back, one token per character, yielding to the event loop
 * between tokens so cancellation can land mid-generation. A fit adds, at each of the method's layers, a
 * resid_post vector filled with the dataset's line count; a comparison streams `[α] prompt` per row; a chat reply
 * streams `base: <message> (turn n)` and, with edits, `steered [α, ...]: <message> (turn n)`.
 */

/** The provider report the fake answers with. */
export const fakeProviders: ProviderReport = {
  active: 'cpu',
  probes: [
    { name: 'cuda', available: false, reason: 'CUDA libraries are not installed.' },
    { name: 'cpu', available: true, reason: 'Always available.' },
  ],
}

/** The info of a fake model loaded from `path`. */
export function fakeModelInfo(path: string): LoadedModelInfo {
  return {
    path,
    name: path.split('/').at(-1) ?? path,
    architecture: 'llama',
    graphFamily: 'builder',
    layers: 2,
    hiddenSize: 16,
    vocabSize: 256,
    dtype: 'float32',
  }
}

/** The fingerprint of a fake model loaded from `path`. */
export function fakeFingerprint(path: string): ModelFingerprint {
  const info = fakeModelInfo(path)
  return {
    architecture: info.architecture,
    layers: info.layers,
    hiddenSize: info.hiddenSize,
    tokenizerHash: `tokenizer of ${path}`,
    weightsHash: `weights of ${path}`,
  }
}

/** Counters a test can inspect. */
export interface FakeRuntimeRecord {
  loads: string[]
  disposed: string[]
  fits: string[]
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 2))

interface FakeModel extends EngineModel {
  path: string
}

/** Build the fake runtime; `defaultFolder` null makes `defaultModelFolder()` throw like a missing organism. */
export function createFakeRuntime(defaultFolder: string | null = null): {
  runtime: EngineRuntime<FakeModel>
  record: FakeRuntimeRecord
} {
  const record: FakeRuntimeRecord = { loads: [], disposed: [], fits: [] }
  const runtime: EngineRuntime<FakeModel> = {
    async versions() {
      return { onnxRuntime: '0.0.0-fake', transformers: '0.0.0-fake' }
    },
    async probeProviders() {
      return fakeProviders
    },
    async loadModel(folder) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      if (folder.includes('missing')) {
        throw new TillerError('file-not-found', `${folder} does not exist. Choose a model folder.`, {
          subject: folder,
        })
      }
      record.loads.push(folder)
      return { path: folder, info: fakeModelInfo(folder), dispose: () => void record.disposed.push(folder) }
    },
    async generate(_model, request: EngineGenerationRequest): Promise<GenerationSummary> {
      const characters = [...request.prompt].slice(0, request.options.maxTokens)
      let text = ''
      for (const character of characters) {
        await new Promise((resolve) => setTimeout(resolve, 2))
        if (request.signal.aborted) {
          if (request.prompt.includes('reject'))
            throw new TillerError('cancelled', 'Generation was cancelled.')
          return summary(text, 'cancelled', request.prompt.length)
        }
        text += character
        request.onToken(0, character.codePointAt(0) ?? 0, character)
      }
      return summary(
        text,
        characters.length < request.prompt.length ? 'length' : 'eos',
        request.prompt.length,
      )
    },
    async fingerprint(model) {
      return fakeFingerprint(model.path)
    },
    async fit(model, request) {
      const lines = readFileSync(request.dataset, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
      const method = methodById(request.method)
      const capture = method.capture(request.options, model.info.layers)
      for (const [index, layer] of capture.layers.entries()) {
        await pause()
        if (request.signal.aborted) throw new TillerError('cancelled', 'The fit was cancelled.')
        request.onProgress((index + 1) / capture.layers.length, `Fitted layer ${layer}`)
      }
      record.fits.push(request.dataset)
      const edit: Edit = {
        version: 1,
        id: `fake-edit-${record.fits.length}`,
        method: method.id,
        options: request.options,
        model: request.fingerprint,
        interventions: capture.layers.map((layer) => ({
          layer,
          site: 'resid_post',
          positions: { kind: 'all' },
          op: { kind: 'add', vector: new Float32Array(model.info.hiddenSize).fill(lines.length) },
        })),
        created: new Date(0).toISOString(),
        notes: `fitted on ${lines.length} lines`,
      }
      const dataset = { hash: `hash of ${request.dataset}`, size: lines.length }
      return {
        edit,
        extras: { dataset },
        summary: {
          method: method.id,
          site: capture.site,
          selector: capture.selector,
          layers: capture.layers,
          interventions: edit.interventions.length,
          pairs: lines.length,
          dataset: { source: request.dataset, ...dataset },
          notes: [edit.notes],
        },
      }
    },
    async compare(_model, request) {
      const texts = request.strengths.map((strength) => `[${strength}] ${request.prompt}`)
      const longest = Math.max(...texts.map((text) => text.length))
      for (let position = 0; position < longest; position++) {
        await pause()
        if (request.signal.aborted) throw new TillerError('cancelled', 'The comparison was cancelled.')
        texts.forEach((text, row) => {
          const character = text[position]
          if (character !== undefined) request.onToken(row, character.codePointAt(0) ?? 0, character)
        })
      }
      return {
        promptTokens: request.prompt.length,
        tokensPerSecond: 0,
        rows: texts.map((text, row) => ({
          strength: request.strengths[row] ?? 0,
          text,
          finishReason: 'eos' as const,
          generatedTokens: text.length,
        })),
      }
    },
    async chat(_model, request) {
      const turn = request.history.length + 1
      const texts = [`base: ${request.message} (turn ${turn})`]
      if (request.edits.length > 0) {
        const strengths = request.edits.map((entry) => entry.strength).join(', ')
        texts.push(`steered [${strengths}]: ${request.message} (turn ${turn})`)
      }
      const columns = ['base', 'steered'] as const
      const longest = Math.max(...texts.map((text) => text.length))
      for (let position = 0; position < longest; position++) {
        await pause()
        if (request.signal.aborted) throw new TillerError('cancelled', 'The reply was cancelled.')
        texts.forEach((text, row) => {
          const character = text[position]
          if (character !== undefined) request.onToken(columns[row] ?? 'base', character)
        })
      }
      const reply = (text: string) => ({
        text,
        finishReason: 'eos' as const,
        generatedTokens: text.length,
        tokensPerSecond: 100,
        timeToFirstTokenMs: 5,
      })
      return {
        base: reply(texts[0] ?? ''),
        steered: texts[1] === undefined ? null : reply(texts[1]),
        seed: request.options.seed,
        promptTokens: {
          base: request.message.length,
          steered: texts[1] === undefined ? null : request.message.length,
        },
        droppedTurns: 0,
      }
    },
    defaultModelFolder() {
      if (defaultFolder === null) {
        throw new TillerError(
          'file-not-found',
          'The default model folder resources/models/organism is missing.',
        )
      }
      return defaultFolder
    },
  }
  return { runtime, record }
}

function summary(text: string, finishReason: GenerationSummary['finishReason'], promptTokens: number) {
  return {
    text,
    finishReason,
    promptTokens,
    generatedTokens: [...text].length,
    tokensPerSecond: 0,
    prefillMilliseconds: 0,
    decodeMilliseconds: 0,
  }
}
