import type { EngineGenerationRequest, EngineModel, EngineRuntime } from '../../src/main/core/engine.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import type { LoadedModelInfo, ProviderReport } from '../../src/shared/engine-status.ts'
import type { GenerationSummary } from '../../src/shared/generation.ts'

/**
 * A runtime stand-in for transport and engine tests: it "loads" any folder whose name does not contain
 * `missing`, and "generates" the prompt's characters back, one token per character, yielding to the event loop
 * between tokens so cancellation can land mid-generation.
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

/** Counters a test can inspect. */
export interface FakeRuntimeRecord {
  loads: string[]
  disposed: string[]
}

interface FakeModel extends EngineModel {
  path: string
}

/** Build the fake runtime; `defaultFolder` null makes `defaultModelFolder()` throw like a missing organism. */
export function createFakeRuntime(defaultFolder: string | null = null): {
  runtime: EngineRuntime<FakeModel>
  record: FakeRuntimeRecord
} {
  const record: FakeRuntimeRecord = { loads: [], disposed: [] }
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
